"""The README's results, regenerated from the raw tables kept in ``results/``.

    python -m bayesft_tune.results collect OUT_DIR results/NAME   # keep a comparison's tables
    python -m bayesft_tune.results render                         # print every results section
    python -m bayesft_tune.results render --write                 # rewrite them in README.md and docs/results.md
    python -m bayesft_tune.results render --check                 # exit 1 if either differs

A results directory holds one ``bayesft-tune compare`` run without its checkpoints:
``robustness.parquet``, ``compare_tests.parquet``, ``tuning.parquet``, ``manifest.json``
(commit, command, machine, settings) and, per search, ``runs/<method>-seed<k>/`` with its
``trials.parquet`` and ``selection.parquet``. README sections between
``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` are rendered from ``results/NAME``;
each has a figure, ``results/NAME/accuracy.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.figures import plot_robustness
from bayesft_tune.compare import CompareConfig, summary_table
from bayesft_tune.errors import UserInputError
from bayesft_tune.paired import paired_tests
from bayesft_tune.provenance import MANIFEST

__all__ = ["collect", "main", "render", "render_all", "seed_means"]

ROOT = Path(__file__).resolve().parents[1]
KEPT = ("robustness.parquet", "compare_tests.parquet", "tuning.parquet", MANIFEST, "compare.md")
RUN_TABLES = ("trials.parquet", "selection.parquet")
SECTION = re.compile(r"<!-- results:(?P<name>[\w.-]+) -->\n.*?<!-- /results:(?P=name) -->", re.S)
OUTPUT = re.compile(r"<!-- output:(?P<name>[\w.-]+) -->\n.*?<!-- /output:(?P=name) -->", re.S)
"""An excerpt of a stored run's own output (``results/NAME/output.txt``)."""


def collect(out_dir: str, dest: str) -> list[str]:
    """Copy a comparison's tables (not its checkpoints or Tune state) into ``dest``; returns the files."""
    src, dst = Path(out_dir), Path(dest)
    if not (src / MANIFEST).is_file():
        raise UserInputError(f"{out_dir!r} has no {MANIFEST}: pass the --out directory of a bayesft-tune compare run.")
    kept = [src / f for f in KEPT if (src / f).is_file()]
    kept += [p for run in sorted(src.glob("*-seed*")) for p in (run / t for t in RUN_TABLES) if p.is_file()]
    for path in kept:
        target = dst / path.relative_to(src) if path.parent == src else dst / "runs" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return [str(p) for p in kept]


def seed_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Robustness rows averaged over seeds per method and level, with a 95 % t-interval over seeds."""
    def stats_of(g: pd.DataFrame) -> pd.Series:
        acc = g.accuracy_mean.to_numpy(float)
        half = stats.t.ppf(0.975, len(acc) - 1) * acc.std(ddof=1) / np.sqrt(len(acc)) if len(acc) > 1 else 0.0
        return pd.Series({"accuracy_mean": acc.mean(), "accuracy_sem": half / max(stats.t.ppf(0.975, max(len(acc) - 1, 1)), 1e-12),
                          "accuracy_ci_low": acc.mean() - half, "accuracy_ci_high": acc.mean() + half,
                          "samples": int(g.samples.iloc[0])})
    keys = ["method", "sigma", *[c for c in ("drift", "split", "level_axis", "level_unit") if c in rows]]
    return rows.groupby(keys, sort=False).apply(stats_of, include_groups=False).reset_index()


def render(name: str, root: Path = ROOT, figure: bool = True, link: str = "") -> str:
    """The README section of ``results/name``: where it came from, its table and its figure
    (drawn to ``results/name/accuracy.png`` when ``figure``; ``link``: the path from the
    document to the repository root, e.g. ``../`` for ``docs/``)."""
    folder = root / "results" / name
    info = json.loads((folder / MANIFEST).read_text())
    cfg = CompareConfig(**{**info["settings"], "methods": tuple(info["settings"]["methods"]),
                           "sigmas": tuple(info["settings"]["sigmas"])})
    rows = pd.read_parquet(folder / "robustness.parquet")
    seeds = sorted(rows.trial_id.unique())
    if figure:
        plot_robustness(seed_means(rows), folder / "accuracy.png", title=f"{cfg.task} under {cfg.drift}",
                        caption=f"Line: test accuracy, mean over {len(seeds)} seeds (each the mean of T = {cfg.samples} "
                                f"drift draws); band: 95 % t-interval over the seeds.")
    lines = [f"`{info['command']}` at commit `{info['commit'][:12]}` ({info['machine']}); {len(seeds)} paired seeds; "
             f"raw tables in `results/{name}/`.", "", summary_table(cfg, rows), "", _tuned_line(folder),
             _verdict(rows, cfg.reference), "", f"![accuracy over the levels]({link}results/{name}/accuracy.png)"]
    return "\n".join(line for line in lines if line is not None).replace("\n\n\n", "\n\n")


def _tuned_line(folder: Path) -> str | None:
    path = folder / "tuning.parquet"
    if not path.is_file():
        return None
    tuning = pd.read_parquet(path)
    parts = [f"{m}: {g.knob.iloc[0]} {', '.join(f'{v:.3g}' for v in g.value)}" for m, g in tuning.groupby("method")]
    return "Tuned knobs chosen per seed (random search on validation): " + "; ".join(parts) + "."


def _verdict(rows: pd.DataFrame, reference: str) -> str:
    """Which methods differ from the reference in AUC after Holm, and which way (rendered, not typed)."""
    tests = paired_tests(rows, reference)
    auc = tests[tests.metric == "auc"]
    better = sorted(auc[auc.significant & (auc["diff"] < 0)].method)
    worse = sorted(auc[auc.significant & (auc["diff"] > 0)].method)
    ties = sorted(auc[~auc.significant].method)
    text = (f"After Holm's correction, {reference}'s AUC is significantly above {better or 'no method'}, "
            f"below {worse or 'no method'}, and tied with {ties or 'no method'} (paired over seeds).")
    last = [m for m in tests.metric.unique() if m.startswith("acc@")][-1:]
    if last and not tests.empty:
        at = tests[tests.metric == last[0]].sort_values("mean", ascending=False).iloc[0]
        text += (f" At the last level ({last[0][4:]}), the best other method is {at.method} with "
                 f"{100 * at['mean']:.1f} % against {reference}'s {100 * at.reference_mean:.1f} % (difference "
                 f"{100 * at['diff']:+.1f} points, 95 % CI [{100 * at.ci_low:+.1f}, {100 * at.ci_high:+.1f}], Holm p = "
                 f"{at.holm_p_value:.2g}).")
    return text


DOCUMENTS = {"README.md": "", "docs/results.md": "../"}
"""The documents holding results sections, and the path from each to the repository root."""


def excerpt(name: str, root: Path = ROOT) -> str:
    """The lines of a stored run's output that the README shows: the reference line, the first
    progress line, then the summary (from ``run directory:`` on)."""
    lines = (root / "results" / name / "output.txt").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("[  1/"))
    summary = next(i for i, line in enumerate(lines) if line.startswith("run directory:"))
    return "\n".join(["```", *lines[1:first + 1], "...", *lines[summary:], "```"])


def render_all(text: str, root: Path = ROOT, figures: bool = True, link: str = "") -> str:
    """``text`` with every marked results section and output excerpt rendered anew from its data."""
    def one(m: re.Match) -> str:
        body = render(m["name"], root, figures, link)
        return f"<!-- results:{m['name']} -->\n{body}\n<!-- /results:{m['name']} -->"

    def out(m: re.Match) -> str:
        return f"<!-- output:{m['name']} -->\n{excerpt(m['name'], root)}\n<!-- /output:{m['name']} -->"
    return OUTPUT.sub(out, SECTION.sub(one, text))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bayesft_tune.results``; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m bayesft_tune.results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render the README's results sections from results/")
    r.add_argument("--write", action="store_true", help="rewrite README.md")
    r.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the rendering")
    c = sub.add_parser("collect", help="keep a comparison's tables in results/NAME")
    c.add_argument("out_dir")
    c.add_argument("dest")
    args = p.parse_args(argv)
    if args.command == "collect":
        print("\n".join(collect(args.out_dir, args.dest)))
        return 0
    stale = []
    for document, link in DOCUMENTS.items():
        path = ROOT / document
        text = path.read_text()
        rendered = render_all(text, figures=args.write, link=link)
        stale += [document] if rendered != text else []
        if args.write:
            path.write_text(rendered)
        elif not args.check:
            print("\n\n".join(m.group(0) for m in SECTION.finditer(rendered)))
    if args.check and stale:
        print(f"stale results sections in {stale}: run python -m bayesft_tune.results render --write")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
