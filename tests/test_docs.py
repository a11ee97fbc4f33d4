"""The docs match the code: generated parts are current, links resolve, the README is a quickstart."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

from bayesft_tune.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
GENERATE = runpy.run_path(str(ROOT / "docs" / "generate.py"))


def test_generated_docs_are_current():
    assert GENERATE["main"](["--check"]) == 0, "run: python docs/generate.py --write"


def test_schema_doc_lists_every_column_of_every_table():
    text = (ROOT / "docs" / "schema.md").read_text()
    for name, table in TABLES.items():
        assert f"## `{name}.parquet`" in text
        assert all(f"| `{col}` | {dtype} |" in text for col, dtype in table.items()), name


def test_the_layer_table_is_the_import_contract():
    design = (ROOT / "docs" / "design.md").read_text()
    assert GENERATE["layers_md"]() in design
    for layer in ("bayesft_tune.search", "trainables", "bayesft_tune.tasks", "bayesft_tune.methods"):
        assert f"`{layer}`" in design


def test_readme_fits_two_screens_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 160
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_every_package_module_is_in_a_layer():
    import pkgutil
    import tomllib

    import bayesft_tune

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    listed = {m.strip() for c in contracts for layer in c.get("layers", []) for m in layer.split("|")}
    listed |= {m for c in contracts for m in c.get("source_modules", [])}
    modules = {f"bayesft_tune.{m.name}" for m in pkgutil.iter_modules(bayesft_tune.__path__)}
    assert modules <= listed, f"modules in no layer of pyproject.toml: {sorted(modules - listed)}"
