"""The pieces that overlap a search's jobs and cut its round trips: driver threads, one
report per evaluated epoch, and the history rows such a report carries."""

from __future__ import annotations

import threading

import pytest

from bayesft_tune.objective import Objective
from bayesft_tune.search.driver_jobs import in_thread
from bayesft_tune.search.recorder import ParquetRecorder
from trainables._common import EARLIER_EPOCHS, EpochBatcher


def test_in_thread_runs_alongside_the_caller_and_returns_the_result():
    release = threading.Event()
    wait = in_thread(lambda: release.wait(10) and "done", "test-job")
    release.set()  # the caller got here while the job waited for it: they ran at the same time
    assert wait() == "done"


def test_in_thread_reraises_the_jobs_error_in_the_waiting_thread():
    def job():
        raise ValueError("bad reference")

    wait = in_thread(job, "test-job")
    with pytest.raises(ValueError, match="bad reference"):
        wait()


def _epoch(n: int, evaluated: bool) -> dict:
    out = {"epoch": n, "time_s": 0.5 * n, "train_loss": 1.0 / n, "clean_accuracy": 0.5 + n / 100,
           "drift_evaluated": evaluated, "knobs": {"dropout": [0.1]}, "parameter_count": 7}
    if evaluated:
        out["drifted_loss"] = 0.25 * n
    return out


def test_epoch_batcher_reports_once_per_evaluated_epoch_with_the_epochs_since():
    sent = []
    batcher = EpochBatcher(lambda m, c: sent.append((m, c)), shared_keys={"knobs", "parameter_count"},
                           last_epoch=5)
    for n in range(1, 6):
        batcher(_epoch(n, evaluated=n in (2, 5)), n in (2, 5))
    assert [(m["epoch"], c) for m, c in sent] == [(2, True), (5, True)]
    assert [e["epoch"] for e in sent[0][0][EARLIER_EPOCHS]] == [1]
    assert [e["epoch"] for e in sent[1][0][EARLIER_EPOCHS]] == [3, 4]
    assert all("knobs" not in e and "parameter_count" not in e for m, _ in sent for e in m[EARLIER_EPOCHS])


def test_epoch_batcher_always_reports_the_last_epoch():
    sent = []
    batcher = EpochBatcher(lambda m, c: sent.append((m, c)), shared_keys=set(), last_epoch=3)
    for n in range(1, 4):
        batcher(_epoch(n, evaluated=False), False)
    assert [(m["epoch"], c, len(m[EARLIER_EPOCHS])) for m, c in sent] == [(3, False, 2)]


def test_a_batched_report_becomes_one_history_row_per_epoch_on_tunes_clock(tmp_path):
    recorder = ParquetRecorder(str(tmp_path), "synthetic", Objective("drifted_loss", 0.9, (0.9,), 2), 4, {},
                               verbose=False)
    result = {**_epoch(4, evaluated=True), "time_total_s": 10.0,
              EARLIER_EPOCHS: [_epoch(n, evaluated=False) for n in (1, 2, 3)]}
    rows = recorder.history_rows("t1", result)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert [r["time_s"] for r in rows] == pytest.approx([8.5, 9.0, 9.5, 10.0])  # 10 s less the trial's own gap
    assert [r["drift_evaluated"] for r in rows] == [False, False, False, True]
    assert rows[-1]["objective_mean"] == 1.0 and all(r["objective_mean"] is None for r in rows[:3])


class _Trial:
    def __init__(self, trial_id: str, result: dict) -> None:
        self.trial_id, self.config, self.last_result, self.status = trial_id, {"ax_trial_index": 0}, result, "TERMINATED"


def test_a_finishing_trial_rewrites_the_trials_table_but_not_an_unchanged_history(tmp_path, monkeypatch):
    from bayesft_tune.run_dir import RunDir

    written = []
    whole, part = RunDir.write_table, RunDir.append
    monkeypatch.setattr(RunDir, "write_table", lambda run, frame, name: (written.append(name), whole(run, frame, name)))
    monkeypatch.setattr(RunDir, "append", lambda run, rows, table, name: (written.append(f"{table} fragment"),
                                                                          part(run, rows, table, name)))
    recorder = ParquetRecorder(str(tmp_path), "synthetic", Objective("drifted_loss", 0.9, (0.9,), 2), 2, {},
                               verbose=False)
    recorder.setup()
    # What a resumed driver rebuilds from result.json may be missing from history.parquet: the first finish writes it.
    recorder.history[("t0", 1)] = recorder.history_rows("t0", {**_epoch(1, evaluated=True), "time_total_s": 1.0})[0]
    first = _Trial("t1", {**_epoch(2, evaluated=True), "time_total_s": 2.0, EARLIER_EPOCHS: [_epoch(1, False)]})
    recorder.on_trial_complete(0, [], first)
    assert written == ["trials", "history"]
    second = _Trial("t2", {**_epoch(2, evaluated=True), "time_total_s": 3.0, EARLIER_EPOCHS: [_epoch(1, False)]})
    recorder.on_trial_result(0, [], second, second.last_result)
    recorder.on_trial_complete(0, [], second)
    assert written[2:] == ["history fragment", "trials"]  # the report added its rows; the finish changed trials
    assert sorted(RunDir(tmp_path).read_table("trials").trial_id) == ["t1", "t2"]
    assert sorted(RunDir(tmp_path).read_table("history").trial_id) == ["t0", "t2", "t2"]  # t1 reported nothing
