"""Write the generated parts of the docs: the table schema (from ``bayesft_tune/schema.py``),
the CLI reference (from the parsers) and the layer table (from ``pyproject.toml``'s
import-linter contracts).

    python docs/generate.py --write     # rewrite docs/schema.md, docs/cli.md, docs/design.md's table
    python docs/generate.py --check     # exit 1 if any differs (tests/test_docs.py runs this)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tomllib
from pathlib import Path

from bayesft_tune import schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LAYERS = re.compile(r"<!-- layers -->\n.*?<!-- /layers -->", re.S)
COLUMN = re.compile(r'^\s*"(?P<col>[\w]+)": "(?P<dtype>[\w]+)",\s*(?:#\s*(?P<doc>.*))?$')


def schema_md() -> str:
    """Every table's columns, types and meanings, read from schema.py's own lines."""
    source = (ROOT / "bayesft_tune" / "schema.py").read_text()
    out = ["# Table schema", "", "Generated from `bayesft_tune/schema.py` by `python docs/generate.py --write`; "
           f"tables carry `{schema.VERSION_KEY}` = {schema.SCHEMA_VERSION} in their Parquet metadata "
           "(older versions still load: missing columns are empty).", ""]
    for name, table in schema.TABLES.items():
        block = source.split(f"\n{name.upper()}: dict[str, str] = {{", 1)[1].split("\n}", 1)[0]
        docs = {m["col"]: m["doc"] or "" for m in map(COLUMN.match, block.splitlines()) if m}
        out += [f"## `{name}.parquet`", "", "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{col}` | {dtype} | {docs.get(col, '')} |" for col, dtype in table.items()]
        if name == "trials":
            out.append(f"| `{schema.SLOT_PREFIX}<slot>`, `{schema.WIDTH_PREFIX}<i>` | float64, Int64 | one per "
                       "dropout slot / hidden width of the task's network |")
        out.append("")
    return "\n".join(out)


def cli_md() -> str:
    """``--help`` of every command, as the parsers print it."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal's width: fix it
    from bayesft_tune import cli, evaluate_cmd
    from bayesft_tune.ablation import _parser as ablation_parser
    from bayesft_tune.compare import _parser as compare_parser

    parser = cli._parser(evaluate_cmd)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    out = ["# Command-line reference", "", "Generated from the parsers by `python docs/generate.py --write`.", ""]
    helps = {name: subs[name].format_help() for name in ("search", "evaluate", "repair")}
    helps.update(compare=compare_parser().format_help(), ablation=ablation_parser().format_help())
    for name, text in helps.items():
        out += [f"## `bayesft-tune {name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


def layers_md() -> str:
    """The layer table: import-linter's layers contract, top to bottom, and the core list."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    core = next(c for c in contracts if c["name"].startswith("the core"))["source_modules"]
    rows = [f"| {i + 1} | {' / '.join(f'`{m.strip()}`' for m in layer.split('|'))} |" for i, layer in enumerate(layers)]
    return "\n".join(["<!-- layers -->", "| layer (top first) | modules |", "|---|---|", *rows,
                      f"| core | {', '.join(f'`{m}`' for m in core)} |", "<!-- /layers -->"])


def generated() -> dict[Path, str]:
    """Each generated file and its content."""
    design = (DOCS / "design.md").read_text()
    with contextlib.redirect_stdout(io.StringIO()):
        cli = cli_md()
    return {DOCS / "schema.md": schema_md() + "\n", DOCS / "cli.md": cli + "\n",
            DOCS / "design.md": LAYERS.sub(lambda _: layers_md(), design)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = [p for p, text in generated().items() if not p.exists() or p.read_text() != text]
    if args.write:
        for path, text in generated().items():
            path.write_text(text)
        return 0
    if stale:
        print("stale: " + ", ".join(str(p.relative_to(ROOT)) for p in stale) + "; run python docs/generate.py --write")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
