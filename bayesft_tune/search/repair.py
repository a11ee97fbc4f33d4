"""Rebuilding a run's tables from its durable records: every trial's ``result.json``.

Tune writes one JSON line per reported result into ``trial_<id>/result.json`` (the
config included), and its experiment state holds each trial's status; the Parquet
tables are views of those. A resumed search rebuilds from them first (so a deleted or
truncated ``trials.parquet`` loses nothing), and ``bayesft-tune repair RUN_DIR`` does it
on demand.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, Protocol

import pyarrow.fs as pafs

from bayesft_tune.storage import remove_temporaries, resolve

__all__ = ["rebuild_from_results", "tune_statuses"]


class _Recorder(Protocol):
    run_dir: str
    epochs: int
    metric: str
    trials: dict[str, dict]
    history: dict[tuple[str, int], dict]

    def history_rows(self, trial_id: str, result: dict) -> list[dict]: ...

    def trial_row(self, trial_id: str, config: dict, result: dict, status: str, error: str | None) -> dict: ...


def _lines(fs: pafs.FileSystem, path: str) -> list[dict]:
    with fs.open_input_stream(path) as f:
        text = f.read().decode(errors="replace")
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut by a crash mid-write
            continue
    return out


def tune_statuses(run_dir: str) -> dict[str, str]:
    """Trial id -> Tune status (``TERMINATED``, ``ERROR``, ``RUNNING``, ...) from the newest
    experiment state; empty if there is none or it is unreadable."""
    fs, root = resolve(run_dir)
    states = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(root))
                    if i.base_name.startswith("experiment_state-"))
    for path in reversed(states):
        try:
            with fs.open_input_stream(path) as f:
                data = json.loads(f.read().decode())
            trials = [json.loads(t[0]) if isinstance(t[0], str) else t[0] for t in data["trial_data"]]
            return {str(t["trial_id"]): str(t["status"]) for t in trials}
        except (ValueError, KeyError, TypeError, OSError):
            continue
    return {}


def _status(recorder: _Recorder, last: dict, tune_status: str | None, error: str | None) -> str:
    """A trial's status from its own last result first: one that reported its last epoch with the
    objective is completed, whatever a killed driver's stale experiment state still says."""
    epochs = int(last.get("epoch", 0))
    finished = epochs >= recorder.epochs and isinstance(last.get(recorder.metric), (int, float))
    if finished and not error:
        return "completed"
    if error or tune_status == "ERROR":
        return "failed"
    if tune_status in ("PENDING", "RUNNING", "PAUSED"):
        return tune_status.lower()
    if epochs >= recorder.epochs:
        return "failed"  # the last epoch came without a finite objective
    return "stopped_early" if tune_status == "TERMINATED" else "running"


def _error(fs: pafs.FileSystem, trial_dir: str) -> str | None:
    path = f"{trial_dir}/error.txt"
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as f:
        lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:2000] if lines else "trial raised an error"


def rebuild_from_results(recorder: _Recorder) -> int:
    """Fill ``recorder.trials`` and ``recorder.history`` from every ``trial_*/result.json``
    (and delete the temporary file of a table write that a killed driver left).

    Returns:
        Trials rebuilt (0 if the run has no per-trial results yet).
    """
    fs, root = resolve(recorder.run_dir)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return 0
    remove_temporaries(recorder.run_dir)  # a table write the dead driver never finished
    statuses, count = tune_statuses(recorder.run_dir), 0
    for info in fs.get_file_info(pafs.FileSelector(root)):
        path = f"{info.path}/result.json"
        if info.type != pafs.FileType.Directory or fs.get_file_info(path).type != pafs.FileType.File:
            continue
        results = _lines(fs, path)
        if not results:
            continue
        trial_id = str(results[-1].get("trial_id") or posixpath.basename(info.path).removeprefix("trial_"))
        for result in results:
            for row in recorder.history_rows(trial_id, result):
                recorder.history[(trial_id, int(row["epoch"]))] = row
        error = _error(fs, info.path)
        status = _status(recorder, results[-1], statuses.get(trial_id), error)
        config: dict[str, Any] = results[-1].get("config") or {}
        recorder.trials[trial_id] = recorder.trial_row(trial_id, config, results[-1], status, error)
        count += 1
    return count
