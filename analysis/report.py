"""Markdown report of a run: figures, best trials, robustness vs ERM, AUC, convergence.

``bayesft-tune report RUN_DIR [--out DIR]`` calls :func:`main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow.fs as pafs

from bayesft_tune.errors import UserInputError
from bayesft_tune.evaluation import DEFAULT_SIGMAS
from bayesft_tune.schema import SLOT_PREFIX, slot_columns
from bayesft_tune.storage import resolve

from analysis import figures
from analysis.tables import (Run, accuracy_at, auc, best_trials, convergence, difference_vs,
                             load_run)

__all__ = ["BASELINE", "REPORT_SIGMAS", "key_table", "main", "markdown_table", "write_report"]

REPORT_SIGMAS: tuple[float, ...] = DEFAULT_SIGMAS
"""σ at which the report tabulates accuracy (the paper's grid 0 .. 1.5)."""
BASELINE = "erm"
"""Method the others are compared against."""


def _fmt(v: object, digits: int = 4) -> str:
    if isinstance(v, float):
        return "–" if pd.isna(v) else f"{v:.{digits}g}"
    return "–" if v is None or v is pd.NA else str(v)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index dropped)."""
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, digits) for v in row) + " |"
            for row in frame.astype(object).itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _ci(mean: float, lo: float, hi: float) -> str:
    return "–" if pd.isna(mean) else f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def _method_keys(frame: pd.DataFrame) -> list[str]:
    return (["run"] if "run" in frame.columns else []) + ["method"]


def key_table(run: Run) -> pd.DataFrame:
    """The table the CLI prints.

    With robustness rows: one row per method (and run) with its AUC over σ∈[0, 1.5]
    and accuracy at each σ of :data:`REPORT_SIGMAS` (``acc@σ`` columns). Without:
    the five best trials (objective, accuracies, dropout rates).
    """
    rob = run.robustness
    if rob.empty:
        top = best_trials(run.trials, 5)
        cols = ["trial_id", "objective_mean", "drifted_accuracy", "clean_accuracy", *slot_columns(top)]
        return top[[*(["run"] if "run" in top.columns else []), *cols]]
    keys = _method_keys(rob)
    at = accuracy_at(rob, REPORT_SIGMAS)
    wide = at.pivot_table(index=keys, columns="sigma", values="accuracy_mean", dropna=False)
    wide.columns = [f"acc@{s:g}" for s in wide.columns]
    return auc(rob).drop(columns=["sigma_lo", "sigma_hi", "n_points"]).merge(
        wide.reset_index(), on=keys).sort_values("auc", ascending=False).reset_index(drop=True)


def _summary_section(run: Run) -> list[str]:
    t = run.trials
    counts = t["status"].value_counts()
    status = ", ".join(f"{s} {n}" for s, n in counts.items())
    tasks = ", ".join(sorted(t["task"].dropna().unique())) or "–"
    sig = ", ".join(f"{s:g}" for s in sorted(t["target_sigma"].dropna().unique())) or "–"
    lines = ["## Search summary", "", f"- trials: {len(t)} ({status or 'none'})",
             f"- task: {tasks}", f"- target σ of the objective: {sig}"]
    top = best_trials(t, 1)
    if not top.empty:
        b = top.iloc[0]
        rates = ", ".join(f"{c.removeprefix(SLOT_PREFIX)}={b[c]:.3f}" for c in slot_columns(top))
        lines.append(f"- best trial: `{b['trial_id']}`: objective {b['objective_mean']:.4g} nats, "
                     f"drifted accuracy {_fmt(b['drifted_accuracy'])}, dropout ({rates})")
    return lines


def _best_section(run: Run, k: int) -> list[str]:
    top = best_trials(run.trials, k)
    if top.empty:
        return ["## Best trials", "", "No completed trial."]
    slots = slot_columns(top)
    table = top[["trial_id", "objective_mean", "objective_sem", "drifted_accuracy",
                 "clean_accuracy", *slots]]
    table = table.rename(columns={s: s.removeprefix(SLOT_PREFIX) for s in slots})
    table.insert(0, "rank", range(1, len(table) + 1))
    return [f"## Best {len(top)} trials (lowest drifted loss)", "",
            "Dropout rates are listed per slot (columns after `clean_accuracy`).", "",
            markdown_table(table)]


def _robustness_table(rob: pd.DataFrame) -> pd.DataFrame:
    at = accuracy_at(rob, REPORT_SIGMAS)
    at["cell"] = [_ci(m, lo, hi) for m, lo, hi in
                  zip(at["accuracy_mean"], at["accuracy_ci_low"], at["accuracy_ci_high"])]
    keys = _method_keys(rob)
    wide = at.pivot(index="sigma", columns=keys, values="cell")
    wide.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in wide.columns]
    if BASELINE in set(rob["method"]):
        d = difference_vs(rob, BASELINE)
        d = d[d["sigma"].round(9).isin([round(s, 9) for s in REPORT_SIGMAS])]
        d["cell"] = [_ci(m, lo, hi) for m, lo, hi in zip(d["diff"], d["ci_low"], d["ci_high"])]
        for key, g in d.groupby(keys, sort=True):
            name = " / ".join(map(str, key)) + f" − {BASELINE}"
            wide[name] = g.set_index("sigma")["cell"].reindex(wide.index).fillna("–")
    return wide.reset_index().rename(columns={"sigma": "σ"})


def _robustness_section(run: Run, fig: str) -> list[str]:
    rob = run.robustness
    if rob.empty:
        return ["## Robustness", "", "robustness.parquet is absent or empty: evaluate the best "
                "trial and the ERM baseline over σ to fill it."]
    area = auc(rob).sort_values("auc", ascending=False)
    return ["## Robustness under drift", "", fig, "",
            "Accuracy (mean [95 % CI]) at each σ; the difference columns compare each method "
            f"with `{BASELINE}` (Welch-t interval on the two standard errors, independent).", "",
            markdown_table(_robustness_table(rob)), "",
            "### Area under the accuracy-σ curve (σ ∈ [0, 1.5], normalised by the width)", "",
            markdown_table(area.drop(columns=["sigma_lo", "sigma_hi"]))]


def _convergence_section(run: Run, fig: str) -> list[str]:
    conv = convergence(run.trials)
    if conv.empty:
        return ["## Search convergence", "", "No completed trial with a trial index."]
    groups = [c for c in ("run", "searcher") if c in conv.columns]
    parts = conv.groupby(groups, sort=True) if groups else [(("all",), conv)]
    rows = []
    for key, g in parts:
        best = g["best_so_far"].iloc[-1]
        hit = g.loc[g["objective_mean"] == best].iloc[0]
        rows.append({"group": " / ".join(map(str, key)), "completed trials": len(g),
                     "first objective": g["objective_mean"].iloc[0], "best objective": best,
                     "best at trial #": int(hit["trial_number"]), "best trial": hit["trial_id"]})
    return ["## Search convergence", "", fig, "",
            markdown_table(pd.DataFrame(rows))]


def _figure(make: Callable[[], figures.FigureInfo], alt: str) -> str:
    """Draw a figure and return its Markdown image link, or why it was skipped."""
    try:
        info = make()
    except UserInputError as exc:
        return f"_Figure skipped: {exc}_"
    return f"![{alt}]({info.path.name})"


def _local_run_dir(run_dir: str) -> Path | None:
    if "://" not in run_dir:
        return Path(run_dir)
    fs, path = resolve(run_dir)
    return Path(path) if isinstance(fs, pafs.LocalFileSystem) else None


def _out_dir(run_dir: str, out_dir: str | os.PathLike | None) -> Path:
    if out_dir is not None:
        return Path(out_dir)
    local = _local_run_dir(run_dir)
    if local is None:
        raise UserInputError(f"the report is written to a local directory; run_dir {run_dir!r} is "
                             "remote, so pass out_dir (CLI: --out DIR).")
    return local / "report"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_report(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                 k: int = 5, decision_boundaries: bool = True) -> Path:
    """Write ``report.md`` and its PNG figures for one run.

    Args:
        run_dir: run directory or URI holding ``trials.parquet`` (and optionally
            ``history.parquet``, ``robustness.parquet``).
        out_dir: where to write; default ``<run_dir>/report`` (required for remote URIs).
        k: number of best trials to tabulate and plot.
        decision_boundaries: also draw the paper's Fig. 1 (trains a tiny MLP, ~1 s).

    Returns:
        Path of ``report.md``; figures sit next to it and are linked relatively.
    """
    run = load_run(str(run_dir))
    out = _out_dir(str(run_dir), out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rob = _figure(lambda: figures.plot_robustness(run.robustness, out / "robustness.png"),
                  "accuracy vs σ") if not run.robustness.empty else ""
    conv = _figure(lambda: figures.plot_convergence(run.trials, out / "convergence.png"),
                   "best-so-far objective")
    drop = _figure(lambda: figures.plot_dropout_rates(run.trials, out / "dropout_rates.png", k),
                   "dropout rates of the best trials")
    lines = ["# BayesFT report", "", f"Run: `{run.source}`", "", *_summary_section(run), "",
             *_best_section(run, k), "", drop, "", *_robustness_section(run, rob), "",
             *_convergence_section(run, conv), ""]
    if decision_boundaries:
        figures.plot_decision_boundaries(out / "decision_boundaries.png")
        lines += ["## Decision boundaries under drift (paper Fig. 1)", "",
                  "A 2-16-16-2 MLP on `make_moons`, one log-normal drift draw per σ.", "",
                  "![decision boundaries](decision_boundaries.png)", ""]
    path = out / "report.md"
    _write_atomic(path, "\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    """``bayesft-tune report RUN_DIR [--out DIR]``: print the key table, write the report.

    Returns:
        0 on success, 2 on a user-input error (message on stderr).
    """
    parser = argparse.ArgumentParser(prog="bayesft-tune report",
                                     description="Write report.md with figures for a run directory.")
    parser.add_argument("run_dir", help="run directory or URI holding trials.parquet")
    parser.add_argument("--out", default=None, help="output directory (default RUN_DIR/report)")
    parser.add_argument("--no-decision-boundaries", action="store_true",
                        help="skip the paper's Fig. 1 (trains a tiny MLP)")
    args = parser.parse_args(argv)
    try:
        table = key_table(load_run(args.run_dir))
        path = write_report(args.run_dir, args.out,
                            decision_boundaries=not args.no_decision_boundaries)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"report: {path}")
    return 0
