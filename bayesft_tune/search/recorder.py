"""Tune callback that keeps ``trials.parquet`` and ``history.parquet`` current during a search.

``trials.parquet`` is rewritten atomically whenever a trial finishes and
``history.parquet`` whenever a trial reports an epoch (~5 ms for 300 rows), so a
driver that dies leaves every finished trial and every reported epoch on disk; on
``--resume`` the recorder reloads them and replaces rows by ``trial_id`` (and
``(trial_id, epoch)``), so nothing is duplicated.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import pandas as pd
from ray.tune import Callback

from bayesft_tune.search.searcher import TRIAL_INDEX_KEY
from bayesft_tune.storage import read_table, write_table

HISTORY_KEYS = ("train_loss", "clean_loss", "clean_accuracy", "drifted_loss", "drifted_loss_sem",
                "drifted_accuracy", "drifted_accuracy_sem")


class ParquetRecorder(Callback):
    """Records every trial (one row, final status) and every epoch report.

    Args:
        run_dir: run directory (local path or URI).
        task: task name.
        parameter_names: the ``dropout_<slot>`` search parameters.
        metric: the searcher's objective metric (its mean/SEM fill ``objective_*``).
        mode: ``"min"`` or ``"max"`` for ``metric``.
        epochs: planned epochs; a trial ending earlier was stopped early.
        constants: ``target_sigma``, ``samples`` and ``seed`` of the trials.
        verbose: print a line per finished trial.
    """

    def __init__(self, run_dir: str, task: str, parameter_names: list[str], metric: str,
                 mode: str, epochs: int, constants: dict[str, Any], verbose: bool = True) -> None:
        self.run_dir, self.task, self.names = run_dir, task, list(parameter_names)
        self.metric, self.mode, self.epochs = metric, mode, int(epochs)
        self.constants, self.verbose = constants, verbose
        self.trials: dict[str, dict] = {}
        self.history: dict[tuple[str, int], dict] = {}
        self.best: float | None = None

    def setup(self, **info: Any) -> None:
        """Reload tables a previous driver wrote (resume)."""
        for table, store, key in (("trials", self.trials, lambda r: r["trial_id"]),
                                  ("history", self.history, lambda r: (r["trial_id"], int(r["epoch"])))):
            try:
                frame = read_table(self.run_dir, table)
            except (OSError, FileNotFoundError):
                continue
            for row in frame.to_dict("records"):
                store[key(row)] = row

    # ---- Tune hooks -------------------------------------------------------------------
    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info: Any) -> None:
        epoch = int(result.get("epoch", result.get("training_iteration", 0)))
        row = {"trial_id": trial.trial_id, "epoch": epoch, "time_s": result.get("time_total_s"),
               **{k: result.get(k) for k in HISTORY_KEYS}}
        self.history[(trial.trial_id, epoch)] = row
        # Written at once: the report carried a checkpoint, and a trial resumed from it
        # (after a driver loss) never reports this epoch again.
        self._write_history()

    def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
        result = trial.last_result or {}
        epochs = int(result.get("epoch", 0))
        status = "completed" if epochs >= self.epochs else "stopped_early"
        if not _finite(result.get(self.metric)):
            status = "failed"
        self._record(trial, status, None if status != "failed" else f"non-finite {self.metric}")

    def on_trial_error(self, iteration: int, trials: list, trial, **info: Any) -> None:
        self._record(trial, "failed", _error_text(trial))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial in trials:  # trials that never finished (e.g. never started)
            if trial.trial_id not in self.trials and trial.status in ("PENDING", "RUNNING", "PAUSED"):
                self._record(trial, trial.status.lower(), None, announce=False)
        self.write()

    # ---- tables -------------------------------------------------------------------------
    def _record(self, trial, status: str, error: str | None, announce: bool = True) -> None:
        result, config = trial.last_result or {}, trial.config
        row = {
            "trial_id": trial.trial_id, "trial_index": config.get(TRIAL_INDEX_KEY), "status": status,
            "task": self.task, "objective_mean": result.get(self.metric),
            "objective_sem": result.get(f"{self.metric}_sem"),
            "drifted_accuracy": result.get("drifted_accuracy"),
            "drifted_accuracy_sem": result.get("drifted_accuracy_sem"),
            "clean_accuracy": result.get("clean_accuracy"), "clean_loss": result.get("clean_loss"),
            "train_loss": result.get("train_loss"), "epochs": result.get("epoch", 0),
            "wall_time_s": result.get("time_total_s"), "error": error, **self.constants,
            **{name: config.get(name) for name in self.names},
        }
        self.trials[trial.trial_id] = row
        self.write()
        if announce and self.verbose:
            self._announce(row)

    def write(self) -> None:
        """Write both tables atomically."""
        trials = pd.DataFrame(list(self.trials.values()))
        if not trials.empty:
            trials = trials.sort_values("trial_index", na_position="last", kind="stable")
            write_table(trials, self.run_dir, "trials")
        self._write_history()

    def _write_history(self) -> None:
        history = pd.DataFrame(list(self.history.values()))
        if not history.empty:
            write_table(history.sort_values(["trial_id", "epoch"]), self.run_dir, "history")

    def _announce(self, row: dict) -> None:
        value = row["objective_mean"]
        if row["status"] == "completed" and _finite(value):
            pick = min if self.mode == "min" else max
            self.best = value if self.best is None else pick(self.best, value)
        rates = ",".join(f"{row[n]:.2f}" for n in self.names if row.get(n) is not None)
        shown = f"{value:.4f}±{row['objective_sem']:.4f}" if _finite(value) and _finite(
            row["objective_sem"]) else "n/a"
        done = sum(r["status"] in ("completed", "stopped_early", "failed") for r in self.trials.values())
        print(f"[{done:>3}] trial {row['trial_id']} {row['status']:<13} dropout=({rates}) "
              f"{self.metric}={shown} clean_acc={_fmt(row['clean_accuracy'])} "
              f"best={_fmt(self.best)}", file=sys.stderr, flush=True)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if _finite(v) else "n/a"


def _error_text(trial) -> str:
    """Last line of the trial's traceback (``"RuntimeError: ..."``).

    The local error file is written before Tune calls ``on_trial_error``; the copy in
    storage (``get_error``) may not be synced yet.
    """
    text = ""
    try:
        path = trial.error_file
        if path and os.path.exists(path):
            with open(path) as f:
                text = f.read()
        if not text.strip():
            text = str(trial.get_error() or "")
    except OSError:  # unreadable error file: keep the generic message
        text = ""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:2000] if lines else "trial raised an error"
