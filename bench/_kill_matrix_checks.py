"""Reading a killed and resumed run of ``bench/kill_matrix.py`` (Tune's per-trial ``result.json``
records, the Parquet tables) and checking every finished trial and reported epoch is recorded once."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

import pyarrow.fs as pafs

from trainables._common import EARLIER_EPOCHS


def _records(fs: pafs.FileSystem, run: str) -> dict[str, list[dict]]:
    """Trial id -> its result.json lines (Tune's own per-trial record)."""
    out = {}
    if fs.get_file_info(run).type != pafs.FileType.Directory:
        return out
    for info in fs.get_file_info(pafs.FileSelector(run)):
        path = f"{info.path}/result.json"
        if info.type != pafs.FileType.Directory or fs.get_file_info(path).type != pafs.FileType.File:
            continue
        with fs.open_input_stream(path) as f:
            lines = []
            for line in f.read().decode(errors="replace").splitlines():
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        out[posixpath.basename(info.path).removeprefix("trial_")] = lines
    return out


def _epochs_of(record: dict) -> list[int]:
    """The epochs one result.json record stands for: its own and the earlier ones it carries
    (a trial reports once per evaluated epoch, the epochs trained since under ``earlier_epochs``)."""
    return [int(e.get("epoch", 0)) for e in record.get(EARLIER_EPOCHS) or []] + [int(record.get("epoch", 0))]


def _table(fs: pafs.FileSystem, run: str, name: str):
    import pyarrow.parquet as pq

    try:
        return pq.read_table(f"{run}/{name}.parquet", filesystem=fs).to_pandas()
    except (OSError, FileNotFoundError, ValueError):
        return None


def _has_rows(fs: pafs.FileSystem, run: str, name: str) -> bool:
    frame = _table(fs, run, name)
    return frame is not None and len(frame) > 0


def _finished(records: dict[str, list[dict]], epochs: int) -> dict[str, float]:
    """Trials whose record reached the last epoch -> their objective."""
    out = {}
    for tid, lines in records.items():
        last = [r for r in lines if int(r.get("epoch", 0)) >= epochs]
        if last:
            out[tid] = last[-1].get("grid_accuracy")
    return out


def _progress(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def _with_error(fs, run) -> int:
    """Trial directories holding Tune's error.txt (a failure, retried or final)."""
    return sum(fs.get_file_info(f"{i.path}/error.txt").type == pafs.FileType.File
               for i in fs.get_file_info(pafs.FileSelector(run)) if i.base_name.startswith("trial_"))


def _tmp_files(fs, run) -> list[str]:
    try:
        return [i.base_name for i in fs.get_file_info(pafs.FileSelector(run)) if i.base_name.endswith(".tmp")]
    except (OSError, FileNotFoundError):
        return []


def check(fs, run: str, trials: int, epochs: int, before: dict[str, float]) -> dict:
    records = _records(fs, run)
    finished = _finished(records, epochs)
    table, history = _table(fs, run, "trials"), _table(fs, run, "history")
    out: dict = {"records": len(records), "records_finished": len(finished)}
    if table is None:
        return {**out, "ok": False, "problem": "no trials.parquet"}
    done = table[table.status == "completed"]
    # A trial the killed driver had started but not yet saved in Tune's experiment state is
    # abandoned (its Ax trial runs again under a new id); its epochs are not expected in the tables.
    abandoned = {tid: len(lines) for tid, lines in records.items() if tid not in set(table.trial_id)}
    json_epochs = {(tid, epoch) for tid, lines in records.items() if tid not in abandoned
                   for r in lines for epoch in _epochs_of(r)}
    hist_keys = [] if history is None else list(zip(history.trial_id, history.epoch.astype(int)))
    out.update({
        "rows": len(table), "completed": len(done), "statuses": table.status.value_counts().to_dict(),
        "dup_trial_rows": int(table.trial_id.duplicated().sum()),
        "lost_trials": sorted(set(finished) - set(done.trial_id)),
        "completed_without_record": sorted(set(done.trial_id) - set(finished)),
        # unique, not contiguous: a stale pre-generated Ax candidate may leave a gap
        "trial_index_ok": bool(done.trial_index.notna().all() and done.trial_index.is_unique),
        "abandoned_records": abandoned, "history_rows": len(hist_keys), "record_epochs": len(json_epochs),
        "dup_history_rows": len(hist_keys) - len(set(hist_keys)),
        "lost_epochs": len(json_epochs - set(hist_keys)),
        "extra_history_rows": len(set(hist_keys) - json_epochs),
        "rerun_or_changed": sorted(t for t, v in before.items()
                                   if t not in set(done.trial_id)
                                   or float(done.set_index("trial_id").objective_mean[t]) != v),
        "robustness": _table(fs, run, "robustness") is not None,
        "trials_with_error_txt": _with_error(fs, run),
        "tmp_files": _tmp_files(fs, run),
    })
    problems = _problems(out, len(done), trials)
    out["problem"] = ", ".join(problems)
    out["ok"] = not problems
    return out


def _problems(out: dict, completed: int, trials: int) -> list[str]:
    """What :func:`check` found wrong in a run (empty: the run is whole)."""
    problems = [k for k in ("dup_trial_rows", "lost_trials", "completed_without_record", "dup_history_rows",
                            "lost_epochs", "extra_history_rows", "rerun_or_changed", "tmp_files") if out[k]]
    if completed != trials:
        problems.append(f"completed {completed} != {trials}")
    if not out["trial_index_ok"]:
        problems.append("Ax trial_index missing or repeated")
    if not out["robustness"]:
        problems.append("no robustness.parquet")
    return problems
