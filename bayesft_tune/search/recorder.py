"""Tune callback that keeps ``trials.parquet`` and ``history.parquet`` current during a search.

``trials.parquet`` is rewritten atomically whenever a trial finishes; each report adds a
fragment of its rows under ``history.parts/`` (O(1) per report; folded into one per trial when
the trial finishes, compacted into ``history.parquet`` at the end: :class:`~bayesft_tune.run_dir.RunDir`),
so a driver that dies leaves every finished trial and every reported epoch on disk; on
``--resume`` the recorder reloads them and replaces rows by ``trial_id`` (and
``(trial_id, epoch)``), so nothing is duplicated.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

import pandas as pd
from ray.tune import Callback

from bayesft_tune.objective import Objective
from bayesft_tune.schema import SLOT_PREFIX, WIDTH_PREFIX
from bayesft_tune.search.searcher import TRIAL_INDEX_KEY
from bayesft_tune.search.repair import rebuild_from_results
from bayesft_tune.tasks.spec import SPEC_KEY
from bayesft_tune.run_dir import RunDir
from trainables._common import EARLIER_EPOCHS

__all__ = ["ParquetRecorder"]

HISTORY_KEYS = ("train_loss", "clean_loss", "clean_accuracy", "drifted_loss", "drifted_loss_sem",
                "drifted_accuracy", "drifted_accuracy_sem", "drift_evaluated")
"""A report's metrics that go into ``history.parquet`` (beside ``trial_id``, ``epoch``, ``time_s``)."""


class ParquetRecorder(Callback):
    """Records every trial (one row, final status) and every epoch report.

    Args:
        run_dir: run directory (local path or URI).
        task: task name.
        objective: the trials' objective (its mean/SEM fill ``objective_*``; name and
            direction are recorded with every row).
        epochs: planned epochs; a trial ending earlier was stopped early.
        constants: ``target_sigma``, ``samples``, ``seed`` and ``data_seed`` of the trials.
        verbose: print a line per finished trial.
    """

    def __init__(self, run_dir: str, task: str, objective: Objective, epochs: int,
                 constants: dict[str, Any], verbose: bool = True, total: int | None = None) -> None:
        self.run_dir, self.task, self.objective = run_dir, task, objective
        self.metric, self.mode, self.epochs = objective.name, objective.direction, int(epochs)
        self.constants, self.verbose, self.total = constants, verbose, total
        self.started = time.monotonic()
        self.trials: dict[str, dict] = {}
        self.history: dict[tuple[str, int], dict] = {}
        self.best: float | None = None
        self._history_stale = True  # history.parquet may differ from self.history (nothing written yet)
        self._fresh: dict[str, dict[str, list[dict]]] = {}  # trial id -> its report fragments since the last whole write

    def setup(self, **info: Any) -> None:
        """Follow the run directory the runner names now; reload what a previous driver recorded:
        first every trial's own results (``result.json``, durable), then the tables where they
        are readable (a missing or truncated table is rebuilt, not fatal)."""
        self.run_dir = (RunDir.here() or RunDir(self.run_dir)).path
        self.started = time.monotonic()
        self._history_stale = True
        rebuild_from_results(self)
        for table, store, key in (("trials", self.trials, lambda r: r["trial_id"]),
                                  ("history", self.history, lambda r: (r["trial_id"], int(r["epoch"])))):
            try:
                frame = RunDir(self.run_dir).read_table(table)
            except Exception:  # noqa: BLE001  (missing or corrupt: the results above stand)
                continue
            for row in frame.to_dict("records"):
                store[key(row)] = row

    # ---- Tune hooks -------------------------------------------------------------------
    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info: Any) -> None:
        rows = self.history_rows(trial.trial_id, result)
        for row in rows:
            self.history[(trial.trial_id, int(row["epoch"]))] = row
        # Written at once: the report carried a checkpoint, and a trial resumed from it
        # (after a driver loss) never reports this epoch again. As a fragment of the report's
        # rows: O(1) per report, whatever the table's size (:meth:`_fold` and the end compact).
        if self._history_stale:
            self._write_history()
            return
        name = f"{trial.trial_id}-{int(rows[-1]['epoch']):06d}"
        RunDir(self.run_dir).append(rows, "history", name)
        self._fresh.setdefault(trial.trial_id, {}).update({name: rows})

    def _fold(self, trial_id: str) -> None:
        """A finished trial's report fragments become one (``<trial_id>``: sorts after them), so the
        compaction at the end deletes one file per trial, not one per report."""
        fresh = self._fresh.pop(trial_id, {})
        if len(fresh) > 1:
            run = RunDir(self.run_dir)
            run.append([row for rows in fresh.values() for row in rows], "history", trial_id)
            run.remove_parts("history", list(fresh))

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
        if self.verbose and self.total and sys.stderr.isatty():
            print(file=sys.stderr)  # end the live bar's line
        for trial in trials:  # trials that never finished (e.g. never started)
            if trial.trial_id not in self.trials and trial.status in ("PENDING", "RUNNING", "PAUSED"):
                self._record(trial, trial.status.lower(), None, announce=False)
        # Epochs of a trial the driver had started just before it died, which the resumed
        # experiment does not know (its Ax trial ran again under another id), are dropped.
        self.history = {k: v for k, v in self.history.items() if k[0] in self.trials}
        self.write()

    # ---- tables -------------------------------------------------------------------------
    def history_rows(self, trial_id: str, result: dict) -> list[dict]:
        """The ``history`` rows of a reported result: the epochs it carries under
        ``EARLIER_EPOCHS`` (oldest first), then its own."""
        total, own = result.get("time_total_s"), result.get("time_s")
        clock = _finite(total) and _finite(own)  # earlier epochs on Tune's clock: the report's total less
        # the trial's own time between that epoch and the report
        earlier = [self._history_row(trial_id, e, total - (own - e["time_s"]) if clock else None)
                   for e in result.get(EARLIER_EPOCHS) or []]
        return [*earlier, self._history_row(trial_id, result, total)]

    def _history_row(self, trial_id: str, result: dict, time_s: float | None) -> dict:
        return {"trial_id": trial_id, "epoch": int(result.get("epoch", result.get("training_iteration", 0))),
                "time_s": time_s, **{k: result.get(k) for k in HISTORY_KEYS},
                "objective_mean": result.get(self.metric), "objective_sem": result.get(f"{self.metric}_sem")}

    def _record(self, trial, status: str, error: str | None, announce: bool = True) -> None:
        row = self.trial_row(trial.trial_id, trial.config, trial.last_result or {}, status, error)
        self.trials[trial.trial_id] = row
        self._fold(trial.trial_id)
        self._write_trials()
        if self._history_stale:  # set by __init__ and setup (Tune calls it on every driver, resumed too)
            self._write_history()
        if announce and self.verbose:
            self._announce(row)

    def trial_row(self, trial_id: str, config: dict, result: dict, status: str, error: str | None) -> dict:
        """One ``trials`` row from a trial's config and last result."""
        return {
            "trial_id": trial_id, "trial_index": config.get(TRIAL_INDEX_KEY), "status": status,
            "task": self.task, "objective_name": self.metric, "objective_direction": self.mode,
            "objective_mean": result.get(self.metric), "objective_sem": result.get(f"{self.metric}_sem"),
            "drifted_accuracy": result.get("drifted_accuracy"),
            "drifted_accuracy_sem": result.get("drifted_accuracy_sem"),
            "clean_accuracy": result.get("clean_accuracy"), "clean_loss": result.get("clean_loss"),
            "train_loss": result.get("train_loss"), "epochs": result.get("epoch", 0),
            "wall_time_s": result.get("time_total_s"), "error": error, **self.constants,
            **_knob_columns(result.get("knobs"), result.get("slots")),
            "parameter_count": result.get("parameter_count"), "warm_start_from": result.get("warm_start_from"),
            "parameters": json.dumps({k: v for k, v in config.items() if k not in (SPEC_KEY, TRIAL_INDEX_KEY)
                                      and isinstance(v, (int, float, str))}, sort_keys=True),
        }

    def write(self) -> None:
        """Write both tables atomically."""
        self._write_trials()
        self._write_history()

    def _write_trials(self) -> None:
        trials = pd.DataFrame(list(self.trials.values()))
        if not trials.empty:
            trials = trials.sort_values("trial_index", na_position="last", kind="stable")
            RunDir(self.run_dir).write_table(trials, "trials")

    def _write_history(self) -> None:
        history = pd.DataFrame(list(self.history.values()))
        if not history.empty:
            RunDir(self.run_dir).write_table(history.sort_values(["trial_id", "epoch"]), "history")
        self._history_stale = False
        self._fresh = {}

    def _announce(self, row: dict) -> None:
        value = row["objective_mean"]
        if row["status"] == "completed" and _finite(value):
            pick = min if self.mode == "min" else max
            self.best = value if self.best is None else pick(self.best, value)
        rates = ",".join(f"{row[n]:.2f}" for n in row if n.startswith(SLOT_PREFIX) and _finite(row[n]))
        widths = "-".join(str(row[n]) for n in row if n.startswith(WIDTH_PREFIX) and row[n] is not None)
        extra = (f" widths={widths}" if widths else "") + (
            f" σ_train={row['noise_injection']:.2f}" if _finite(row.get("noise_injection")) else "")
        shown = f"{value:.4f}±{row['objective_sem']:.4f}" if _finite(value) and _finite(
            row["objective_sem"]) else "n/a"
        done = sum(r["status"] in ("completed", "stopped_early", "failed") for r in self.trials.values())
        tty = sys.stderr.isatty()
        start = "\r" if tty else ""  # on a terminal each line overwrites the live bar
        print(f"{start}[{done:>3}{'/' + str(self.total) if self.total else ''}] trial "
              f"{row['trial_id']} {row['status']:<13} dropout=({rates}){extra} {self.metric}={shown} "
              f"clean_acc={_fmt(row['clean_accuracy'])} best={_fmt(self.best)} {self._clock(done)}",
              file=sys.stderr, flush=True)
        if tty and self.total:  # a live bar under the lines on a terminal; plain lines when piped
            filled = int(20 * done / self.total)
            print(f"[{'#' * filled}{'.' * (20 - filled)}] {done}/{self.total} trials, best {_fmt(self.best)} "
                  f"{self._clock(done)}", end="", file=sys.stderr, flush=True)

    def _clock(self, done: int) -> str:
        """Elapsed time and, with a known total, the remaining time at the pace so far."""
        elapsed = time.monotonic() - self.started
        if not self.total or not done:
            return f"({elapsed:.0f} s)"
        return f"({elapsed:.0f} s, ~{elapsed / done * max(0, self.total - done):.0f} s left)"


def _knob_columns(knobs: dict | None, slots: list | None) -> dict[str, Any]:
    """Typed knob columns of a trial's reported ``knobs`` (``Knobs.to_dict``) and slot names."""
    if not knobs:
        return {}
    out = {f"{SLOT_PREFIX}{s.replace('.', '_')}": float(r) for s, r in zip(slots or [], knobs["dropout"])}
    out.update({f"{WIDTH_PREFIX}{i}": int(w) for i, w in enumerate(knobs.get("widths") or [], start=1)})
    out.update({"noise_injection": knobs.get("noise"), "activation": knobs.get("activation"),
                "norm": knobs.get("norm"), "lr": knobs.get("lr"), "weight_decay": knobs.get("weight_decay")})
    return out


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
