"""Live view of a search: ``bayesft-tune watch RUN_DIR [--interval S] [--once]``.

Re-reads the run's Parquet tables every ``--interval`` seconds and shows trials
done/total (total from ``search_config.json``), the best trial so far in the
objective's direction, the top trials and the elapsed time. On a terminal the view
is redrawn in place; otherwise (a pipe, a log file) plain text is printed whenever
something changed. It stops by itself once every trial of the search has finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from typing import Callable, TextIO

import pandas as pd
import pyarrow.fs as pafs

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_dir import CONFIG_FILE, RunDir
from bayesft_tune.schema import SLOT_PREFIX, slot_columns

from analysis.runinfo import read_search_config, search_total
from analysis.tables import load_run
from analysis.trials import DEFAULT_OBJECTIVE, Objective, best_trials, objective_of

__all__ = ["Snapshot", "main", "render", "snapshot", "watch"]

PROG = "bayesft-tune watch"
FINAL = ("completed", "failed", "stopped_early")
CLEAR = "\x1b[H\x1b[2J"
BOLD, RESET = "\x1b[1m", "\x1b[0m"


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The state of a run directory at one moment.

    Attributes:
        run_dir: the directory watched.
        total: trials the search was asked for (None if unknown).
        counts: trials per final status in ``trials.parquet``.
        running: trials with reported epochs but no final row yet.
        objective: what the search optimises.
        top: the best completed trials, best first.
        elapsed_s: seconds since the search started (None if unknown).
    """

    run_dir: str
    total: int | None
    counts: dict[str, int]
    running: int
    objective: Objective
    top: pd.DataFrame
    elapsed_s: float | None

    @property
    def done(self) -> int:
        """Trials with a final status."""
        return sum(self.counts.get(s, 0) for s in FINAL)

    @property
    def finished(self) -> bool:
        """True once every trial of the search has a final status."""
        return self.total is not None and self.done >= self.total


def check_run_dir(run_dir: str) -> None:
    """Raise a :class:`UserInputError` unless ``run_dir`` is a search's run directory."""
    run = RunDir(run_dir)
    kind = run.kind()
    if kind == pafs.FileType.NotFound:
        raise UserInputError(f"run directory {run_dir!r} does not exist; pass the directory a "
                             "search printed as its run directory (e.g. runs/search-<timestamp>).")
    if kind != pafs.FileType.Directory:
        raise UserInputError(f"RUN_DIR must be a directory; {run_dir!r} is a file. Pass the "
                             "directory holding trials.parquet, not the file.")
    if not run.has("trials.parquet") and not run.is_run():
        raise UserInputError(f"{run_dir!r} is not a run directory: it holds neither trials.parquet "
                             f"nor {CONFIG_FILE}. Pass the directory a search writes "
                             "(bayesft-tune search prints it as 'run directory').")


def _elapsed(run_dir: str, finished: bool, now: float) -> float | None:
    """Seconds since ``search_config.json`` was written (to the last trial if finished)."""
    run = RunDir(run_dir)
    start = run.mtime(CONFIG_FILE)
    end = run.mtime("trials.parquet") if finished else now
    return None if start is None or end is None else max(0.0, end - start)


def snapshot(run_dir: str, k: int = 5, now: float | None = None) -> Snapshot:
    """Read ``run_dir`` once.

    Raises:
        UserInputError: not a run directory, or a table/config unreadable.
    """
    run_dir = str(run_dir)
    check_run_dir(run_dir)
    total = search_total(read_search_config(run_dir))
    if not RunDir(run_dir).has("trials.parquet"):
        return Snapshot(run_dir, total, {}, 0, DEFAULT_OBJECTIVE, pd.DataFrame(),
                        _elapsed(run_dir, False, time.time() if now is None else now))
    run = load_run(run_dir)
    counts = {str(s): int(n) for s, n in run.trials["status"].value_counts().items()}
    status = run.trials["status"]
    final = set(run.trials.loc[status.isin(FINAL).fillna(False), "trial_id"])
    started = set(run.history["trial_id"].dropna()) | set(run.trials.loc[
        status.eq("running").fillna(False).astype(bool), "trial_id"])
    running = len(started - final)
    snap = Snapshot(run_dir, total, counts, running, objective_of(run.trials),
                    best_trials(run.trials, k), None)
    elapsed = _elapsed(run_dir, snap.finished, time.time() if now is None else now)
    return dataclasses.replace(snap, elapsed_s=elapsed)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _progress(snap: Snapshot) -> str:
    if snap.total is None:
        return f"trials: {snap.done} done (total unknown: no {CONFIG_FILE})"
    filled = min(20, round(20 * snap.done / snap.total))
    return f"trials: [{'#' * filled}{'.' * (20 - filled)}] {snap.done}/{snap.total} done"


def _top_table(snap: Snapshot) -> str:
    top = snap.top
    slots = slot_columns(top)
    cols = [c for c in ("trial_id", "trial_index", "objective_mean", "objective_sem",
                        "clean_accuracy") if c in top.columns]
    table = top[[*cols, *slots]].rename(columns={"trial_index": "index", "objective_mean": "objective",
                                                 "objective_sem": "sem", "clean_accuracy": "clean_acc",
                                                 **{s: s.removeprefix(SLOT_PREFIX) for s in slots}})
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="–")


def _status_line(snap: Snapshot) -> str:
    parts = ", ".join(f"{s} {n}" for s, n in sorted(snap.counts.items()) if s in FINAL)
    when = "finished after" if snap.finished else "elapsed"
    return (f"{_progress(snap)}{f' ({parts})' if parts else ''}, {snap.running} running; "
            f"{when} {_clock(snap.elapsed_s)}")


def render(snap: Snapshot, tty: bool = False) -> str:
    """The view as text; ``tty`` adds a bold header (the caller clears the screen)."""
    title = f"{PROG}: {snap.run_dir}"
    obj = snap.objective
    lines = [f"{BOLD}{title}{RESET}" if tty else title, _status_line(snap),
             f"objective: {obj.name}, {obj.label}, {obj.better}"]
    if snap.top.empty:
        lines.append("best so far: – (waiting for the first trial to complete)")
        return "\n".join(lines) + "\n"
    b = snap.top.iloc[0]
    sem = f" ± {b['objective_sem']:.4f}" if pd.notna(b.get("objective_sem")) else ""
    lines += [f"best so far ({obj.best_word} {obj.words}): {b['objective_mean']:.4f}{sem}, "
              f"trial {b['trial_id']}", f"top {len(snap.top)} trials:", _top_table(snap)]
    return "\n".join(lines) + "\n"


def _key(snap: Snapshot) -> tuple:
    """What must change before plain-text mode prints again."""
    best = None if snap.top.empty else snap.top["trial_id"].iloc[0]
    return tuple(sorted(snap.counts.items())), snap.running, best


def watch(run_dir: str, interval: float = 5.0, once: bool = False, out: TextIO | None = None,
          tty: bool | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Show the run until every trial finished (or once); returns the exit status 0."""
    out = sys.stdout if out is None else out
    tty = out.isatty() if tty is None else tty
    last = None
    while True:
        snap = snapshot(run_dir)
        if tty:
            footer = "" if once or snap.finished else f"refresh every {interval:g} s; Ctrl-C to stop\n"
            out.write(CLEAR + render(snap, tty=True) + footer)
        elif _key(snap) != last:
            out.write(("\n" if last is not None else "") + render(snap))
        out.flush()
        last = _key(snap)
        if once or snap.finished:
            return 0
        sleep(interval)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="run directory (or URI) of a search, e.g. runs/search-<ts>")
    parser.add_argument("--interval", type=float, default=5.0, metavar="S",
                        help="seconds between refreshes (default 5)")
    parser.add_argument("--once", action="store_true", help="print the view once and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``bayesft-tune watch``: 0 when done (or interrupted), 2 on bad input (one line on stderr)."""
    args = _parser().parse_args(argv)
    try:
        if not (math.isfinite(args.interval) and args.interval > 0):
            raise UserInputError(f"--interval must be a number of seconds > 0; got "
                                 f"{args.interval:g}. Pass e.g. --interval 5.")
        return watch(args.run_dir, args.interval, args.once)
    except UserInputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 0
