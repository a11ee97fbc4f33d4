"""``history`` grows by one fragment per report (folded into one per trial when it ends) while a search runs and is compacted when it
ends: readers see one table throughout, nothing lost and nothing twice (real recorder, real files)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pyarrow.dataset as ds

from analysis import load_run
from bayesft_tune.objective import Objective
from bayesft_tune.run_dir import RunDir
from bayesft_tune.search.recorder import ParquetRecorder
from bayesft_tune.storage import write_table


def Trial(trial_id: str, config: dict | None = None) -> SimpleNamespace:
    """What the recorder reads of a Tune trial."""
    return SimpleNamespace(trial_id=trial_id, config=config or {}, last_result={}, status="RUNNING")


def _result(epoch: int) -> dict:
    return {"epoch": epoch, "time_s": float(epoch), "time_total_s": epoch + 0.5, "train_loss": 1.0 / epoch,
            "clean_accuracy": 0.9, "drifted_loss": 1.0 / epoch, "drifted_loss_sem": 0.01, "drift_evaluated": True}


def _recorder(run_dir: str, epochs: int = 3) -> ParquetRecorder:
    rec = ParquetRecorder(run_dir, "synthetic", Objective("drifted_loss", 0.9, (0.9,), 2), epochs,
                          {"target_sigma": 0.9, "samples": 2, "seed": 0, "data_seed": 0}, verbose=False)
    rec.setup()
    return rec


def _report(rec: ParquetRecorder, trial: Trial, epoch: int) -> None:
    trial.last_result = _result(epoch)
    rec.on_trial_result(0, [trial], trial, trial.last_result)


def test_reports_add_fragments_that_read_as_one_table_and_compact_at_the_end(tmp_path):
    run_dir, trials = str(tmp_path / "run"), [Trial("a", {"ax_trial_index": 0}), Trial("b", {"ax_trial_index": 1})]
    rec, run = _recorder(run_dir), RunDir(tmp_path / "run")
    for epoch in (1, 2, 3):
        for t in trials:
            _report(rec, t, epoch)
    names = lambda: [p.rsplit("/", 1)[-1].removesuffix(".parquet") for p in run.parts("history")]  # noqa: E731
    # the first report wrote the whole (one-row) table; every later one a fragment of its own rows
    assert names() == ["a-000002", "a-000003", "b-000001", "b-000002", "b-000003"]
    live = run.read_table("history")
    assert sorted(zip(live.trial_id, live.epoch)) == [(t, e) for t in "ab" for e in (1, 2, 3)]
    assert len(ds.dataset(str(tmp_path / "run" / "history.parts")).to_table()) == 5  # a plain Parquet dataset
    assert len(pd.read_parquet(tmp_path / "run" / "history.parts")) == 5
    for t in trials:
        rec.on_trial_complete(0, trials, t)
    assert names() == ["a", "b"]  # a finished trial's fragments folded into one
    assert len(load_run(run_dir).history) == 6  # a running search reads whole
    rec.on_experiment_end(trials)
    assert run.parts("history") == [] and not (tmp_path / "run" / "history.parts").exists()
    compacted = pd.read_parquet(tmp_path / "run" / "history.parquet")
    assert len(compacted) == 6 and not compacted.duplicated(["trial_id", "epoch"]).any()


def test_a_compaction_cut_short_leaves_no_duplicate_and_a_new_driver_resumes_from_both(tmp_path):
    run_dir, trial = str(tmp_path / "run"), Trial("a", {"ax_trial_index": 0})
    rec = _recorder(run_dir)
    for epoch in (1, 2, 3):
        _report(rec, trial, epoch)
    run = RunDir(run_dir)
    write_table(pd.DataFrame(list(rec.history.values())), run_dir, "history")  # compacted; fragments still there
    assert run.parts("history") and len(run.read_table("history")) == 3  # file + fragments: no row twice
    again = _recorder(run_dir)  # a driver after a crash
    assert sorted(again.history) == [("a", 1), ("a", 2), ("a", 3)]
    _report(again, trial, 3)  # the first report after setup writes the whole table
    assert run.parts("history") == [] and len(run.read_table("history")) == 3
