"""Report of a run: figures, best trials, robustness vs ERM, AUC, convergence.

Written twice from one list of blocks (:mod:`analysis.document`): ``report.md`` with
PNG figures beside it, and ``report.html``, one self-contained page (figures inline,
sortable tables). ``bayesft-tune report RUN_DIR [--out DIR]`` calls :func:`main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow.fs as pafs

from bayesft_tune.errors import UserInputError
from bayesft_tune.evaluation import DEFAULT_SIGMAS
from bayesft_tune.schema import SLOT_PREFIX, slot_columns
from bayesft_tune.storage import resolve

from analysis import document as doc
from analysis import figures
from analysis.document import Block, fmt, markdown_table
from analysis.runinfo import read_search_config, search_bounds
from analysis.tables import Run, accuracy_at, auc, difference_vs, load_run
from analysis.trials import Objective, best_trials, convergence, objective_of

__all__ = ["BASELINE", "REPORT_SIGMAS", "key_table", "main", "markdown_table", "write_report"]

REPORT_SIGMAS: tuple[float, ...] = DEFAULT_SIGMAS
"""σ at which the report tabulates accuracy (the paper's grid 0 .. 1.5)."""
BASELINE = "erm"
"""Method the others are compared against."""


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


def _best_line(top: pd.DataFrame, objective: Objective) -> str:
    b = top.iloc[0]
    rates = ", ".join(f"{c.removeprefix(SLOT_PREFIX)}={b[c]:.3f}" for c in slot_columns(top))
    sem = f" ± {b['objective_sem']:.2g}" if pd.notna(b.get("objective_sem")) else ""
    return (f"best trial: `{b['trial_id']}`: {objective.words} {b['objective_mean']:.4g}{sem}"
            f"{' ' + objective.unit if objective.unit == 'nats' else ''}, drifted accuracy "
            f"{fmt(b.get('drifted_accuracy'))}, dropout ({rates})")


def _summary_section(run: Run, objective: Objective) -> list[Block]:
    t = run.trials
    status = ", ".join(f"{s} {n}" for s, n in t["status"].value_counts().items())
    tasks = ", ".join(sorted(t["task"].dropna().unique())) or "–"
    sig = ", ".join(f"{s:g}" for s in sorted(t["target_sigma"].dropna().unique())) or "–"
    items = [f"trials: {len(t)} ({status or 'none'})", f"task: {tasks}",
             f"objective: `{objective.name}`, {objective.label}, "
             f"{'minimised' if objective.minimize else 'maximised'} ({objective.better})",
             f"target σ of the objective: {sig}"]
    top = best_trials(t, 1)
    if not top.empty:
        items.append(_best_line(top, objective))
    return [doc.heading("Search summary"), doc.bullets(items)]


def _best_section(run: Run, k: int, objective: Objective, drop: Block) -> list[Block]:
    top = best_trials(run.trials, k)
    if top.empty:
        return [doc.heading("Best trials"), doc.text("No completed trial."), drop]
    slots = slot_columns(top)
    cols = [c for c in ("trial_id", "trial_index", "objective_mean", "objective_sem",
                        "drifted_accuracy", "clean_accuracy") if c in top.columns]
    table = top[[*cols, *slots]].rename(columns={s: s.removeprefix(SLOT_PREFIX) for s in slots})
    table.insert(0, "rank", range(1, len(table) + 1))
    return [doc.heading(f"Best {len(top)} trials ({objective.best_word} {objective.words})"),
            doc.text(f"`objective_mean` is the {objective.label}, {objective.better}; dropout "
                     "rates are listed per slot (columns after `clean_accuracy`)."),
            doc.table(table), drop]


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


def _robustness_section(run: Run, fig: Block | None) -> list[Block]:
    rob = run.robustness
    if rob.empty:
        return [doc.heading("Robustness"), doc.text(
            "robustness.parquet is absent or empty: evaluate the best trial and the ERM "
            "baseline over σ to fill it.")]
    area = auc(rob).sort_values("auc", ascending=False)
    return [doc.heading("Robustness under drift"), fig,
            doc.text("Accuracy (mean [95 % CI]) at each σ; the difference columns compare each "
                     f"method with `{BASELINE}` (Welch-t interval on the two standard errors, "
                     "independent)."),
            doc.table(_robustness_table(rob)),
            doc.heading("Area under the accuracy-σ curve (σ ∈ [0, 1.5], normalised by the width)", 3),
            doc.table(area.drop(columns=["sigma_lo", "sigma_hi"]))]


def _convergence_section(run: Run, fig: Block, objective: Objective) -> list[Block]:
    conv = convergence(run.trials)
    if conv.empty:
        return [doc.heading("Search convergence"), doc.text("No completed trial with a trial index.")]
    groups = [c for c in ("run", "searcher") if c in conv.columns]
    parts = conv.groupby(groups, sort=True) if groups else [(("all",), conv)]
    rows = []
    for key, g in parts:
        best = g["best_so_far"].iloc[-1]
        hit = g.loc[g["objective_mean"] == best].iloc[0]
        rows.append({"group": " / ".join(map(str, key)), "completed trials": len(g),
                     "first objective": g["objective_mean"].iloc[0], "best objective": best,
                     "best trial index": int(hit["trial_index"]), "best trial": hit["trial_id"]})
    return [doc.heading("Search convergence"), fig,
            doc.text(f"Objective: {objective.label}, {objective.better}; trial indices are "
                     "0-based, as in trials.parquet."),
            doc.table(pd.DataFrame(rows))]


def _figure(make: Callable[[], figures.FigureInfo], alt: str) -> Block:
    """Draw a figure and return its block, or a note saying why it was skipped."""
    try:
        info = make()
    except UserInputError as exc:
        return doc.note(f"Figure skipped: {exc}")
    return doc.figure(info.path, alt)  # a caption, if any, is drawn inside the PNG


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


def _write_text(path: Path, text_: str) -> None:
    """Write ``path`` atomically with mode 0666 minus the umask (0644 by default)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text_)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _blocks(run: Run, out: Path, k: int, bounds: tuple[float, float] | None,
            decision_boundaries: bool) -> list[Block]:
    """Draw the figures into ``out`` and assemble the report's blocks."""
    objective = objective_of(run.trials)
    rob = _figure(lambda: figures.plot_robustness(run.robustness, out / "robustness.png"),
                  "accuracy vs σ") if not run.robustness.empty else None
    conv = _figure(lambda: figures.plot_convergence(run.trials, out / "convergence.png"),
                   f"{objective.words} of each trial and best so far")
    drop = _figure(lambda: figures.plot_dropout_rates(run.trials, out / "dropout_rates.png", k,
                                                      bounds=bounds),
                   "dropout rates of the best trials")
    blocks = [doc.heading("BayesFT report", 1), doc.text(f"Run: `{run.source}`"),
              *_summary_section(run, objective), *_best_section(run, k, objective, drop),
              *_robustness_section(run, rob), *_convergence_section(run, conv, objective)]
    if decision_boundaries:
        info = figures.plot_decision_boundaries(out / "decision_boundaries.png")
        blocks += [doc.heading("Decision boundaries under drift (paper Fig. 1)"),
                   doc.text("A 2-16-16-2 MLP on `make_moons`, one log-normal drift draw per σ; "
                            "colour: predicted probability of class 1."),
                   doc.figure(info.path, "decision boundaries")]
    return blocks


def write_report(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                 k: int = 5, decision_boundaries: bool = True) -> Path:
    """Write ``report.md``, ``report.html`` and the PNG figures for one run.

    Args:
        run_dir: run directory or URI holding ``trials.parquet`` (and optionally
            ``history.parquet``, ``robustness.parquet``, ``search_config.json``).
        out_dir: where to write; default ``<run_dir>/report`` (required for remote URIs).
        k: number of best trials to tabulate and plot.
        decision_boundaries: also draw the paper's Fig. 1 (trains a tiny MLP, ~1 s).

    Returns:
        Path of ``report.md``; the figures sit next to it, linked relatively, and
        ``report.html`` (figures embedded) too. Files get mode 0666 minus the umask.
    """
    run = load_run(str(run_dir))
    bounds = search_bounds(read_search_config(str(run_dir)))
    out = _out_dir(str(run_dir), out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks = [b for b in _blocks(run, out, k, bounds, decision_boundaries) if b is not None]
    path = out / "report.md"
    _write_text(path, doc.to_markdown(blocks))
    _write_text(out / "report.html", doc.to_html(blocks, f"BayesFT report: {run.source}"))
    return path


def main(argv: list[str] | None = None) -> int:
    """``bayesft-tune report RUN_DIR [--out DIR]``: print the key table, write the report.

    Returns:
        0 on success, 2 on a user-input error (message on stderr).
    """
    parser = argparse.ArgumentParser(prog="bayesft-tune report",
                                     description="Write report.md and report.html with figures "
                                                 "for a run directory.")
    parser.add_argument("run_dir", help="run directory or URI holding trials.parquet")
    parser.add_argument("--out", default=None, help="output directory (default RUN_DIR/report)")
    parser.add_argument("--no-decision-boundaries", action="store_true",
                        help="skip the paper's Fig. 1 (trains a tiny MLP)")
    args = parser.parse_args(argv)
    try:
        if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UserInputError(f"--out must be a directory (report.md and its figures go in it); "
                                 f"{args.out!r} is an existing file. Pass a new or existing directory.")
        table = key_table(load_run(args.run_dir))
        path = write_report(args.run_dir, args.out,
                            decision_boundaries=not args.no_decision_boundaries)
    except UserInputError as exc:
        print(f"bayesft-tune report: error: {exc}", file=sys.stderr)
        return 2
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"report: {path}")
    print(f"html:   {path.with_name('report.html')}")
    return 0
