"""End-to-end searches on a real local Ray instance: Parquet tables with the documented schema."""

from __future__ import annotations

import glob
import math

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bayesft_tune.mc_parts import plan_parts
from bayesft_tune.objective import Objective
from bayesft_tune.schema import HISTORY, ROBUSTNESS, SCHEMA_VERSION, SELECTION, TRIALS, VERSION_KEY
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search import rundir
from bayesft_tune.search.driver_jobs import Prepared, final_job, min_clean
from bayesft_tune.search.runner import run_search
from bayesft_tune.search.tail import Ahead
from bayesft_tune.search.tuner import search_spec
from bayesft_tune.tasks.checkpoint import load_state
from bayesft_tune.tasks.final import Candidate, run_final

pytestmark = pytest.mark.slow


def _dtypes_match(frame: pd.DataFrame, spec: dict[str, str]) -> None:
    for col, dtype in spec.items():
        assert str(frame[col].dtype) == dtype, f"{col}: {frame[col].dtype} != {dtype}"


def test_small_search_writes_valid_tables_and_returns_a_reselected_network(ray_session, tmp_path, monkeypatch):
    cfg = SearchConfig(trials=4, concurrency=2, epochs=2, samples=3, robustness_samples=3,
                       storage_path=f"file://{tmp_path}", name="e2e", verbose=False)
    plans = []  # the tail callback runs in this (the driver's) process: record what it plans
    replan = Ahead.replan
    monkeypatch.setattr(Ahead, "replan", lambda self, top: (plans.append([t[0] for t in top]), replan(self, top)))
    out = run_search(cfg)
    run_dir = tmp_path / "e2e"
    tables = {n: pd.read_parquet(run_dir / f"{n}.parquet") for n in ("trials", "history", "robustness", "selection")}
    for name, spec in (("trials", TRIALS), ("history", HISTORY), ("robustness", ROBUSTNESS), ("selection", SELECTION)):
        meta = pq.read_schema(run_dir / f"{name}.parquet").metadata
        assert meta[VERSION_KEY.encode()] == str(SCHEMA_VERSION).encode()
        _dtypes_match(tables[name], spec)
    trials, history, robust, selection = (tables[n] for n in ("trials", "history", "robustness", "selection"))
    assert len(trials) == 4 and trials.trial_id.is_unique
    assert (trials.status == "completed").all() and (trials.epochs == 2).all()
    assert len(trials) == 4 and trials.trial_index.is_unique  # a stale pre-generated candidate may skip an index
    assert (trials.objective_name == "grid_accuracy").all() and (trials.objective_direction == "max").all()
    assert (trials.data_seed == 0).all() and (trials.parameter_count <= 157_226).all()
    assert trials[["dropout_fc1", "dropout_fc2"]].stack().between(0, 0.8).all()
    assert trials.noise_injection.between(0, 1).all() and trials[["width_1", "width_2"]].notna().all().all()
    assert (trials.objective_sem > 0).all() and trials.objective_mean.map(math.isfinite).all()
    assert len(history) == 8 and history.drift_evaluated.tolist().count(True) == 4
    assert history[history.epoch == 1].objective_mean.isna().all()  # MC objective on the last epoch only
    assert history[history.epoch == 2].objective_mean.notna().all()
    assert set(robust.method) == {"bayesft", "erm"} and len(robust) == 12 and (robust.data_seed == 0).all()
    assert len(selection) == 3 and selection.chosen.sum() == 1
    top = trials.sort_values("objective_mean", ascending=False).trial_id.head(3).tolist()
    assert selection.trial_id.tolist() == top  # the observed top 3, re-scored with fresh draws
    assert (selection.reselected != selection.observed).all()
    assert robust[robust.method == "bayesft"].trial_id.iloc[0] == out.best["trial_id"]
    assert out.best["trial_id"] == selection[selection.chosen].trial_id.iloc[0]
    assert 0.5 < out.reference_clean_accuracy <= 1.0
    _check_final_job_scored_ahead(cfg, out, str(run_dir), robust, selection, plans)


def _check_final_job_scored_ahead(cfg, out, run_dir: str, robust: pd.DataFrame, selection: pd.DataFrame,
                                  plans: list[list[str]]) -> None:
    """Scoring ahead was planned for the top trials once the last trial ran alone, and the tables equal
    a final job that scores everything itself (from the run's own checkpoints and reference).
    How many units the tail finishes before the final job starts depends on timing (the last two
    trials may end together): only their total is fixed."""
    spec, fin = search_spec(cfg), cfg.final
    assert plans and all(1 <= len(p) <= 3 for p in plans)  # the top 3 that meet the guard (all, if none does)
    taken, scored = out.final_units
    rescore_units = 1 + len(plan_parts(spec.objective.eval_sigmas, fin.robustness_samples))  # clean pass + parts
    assert taken + scored == 3 * rescore_units + len(plan_parts(fin.robustness_sigmas, fin.robustness_samples))
    ref = rundir.load_reference(run_dir)
    top = tuple(Candidate(r.trial_id, r.observed, load_state(_checkpoint_dir(run_dir, r.trial_id)))
                for r in selection.itertuples())
    again, reselected = run_final(final_job(cfg, spec, top, Prepared(ref, None), min_clean(cfg, ref)))
    pd.testing.assert_frame_equal(reselected, selection, check_exact=True, check_dtype=False)
    written = robust[again.columns]
    pd.testing.assert_frame_equal(again.astype(written.dtypes.to_dict()), written, check_exact=True)


def _checkpoint_dir(run_dir: str, trial_id: str) -> str:
    return sorted(glob.glob(f"{run_dir}/trial_{trial_id}/checkpoint_*"))[-1]


def test_failing_and_nan_trials_are_recorded_and_search_goes_on(ray_session, tmp_path):
    from ray import tune

    from bayesft_tune.search.recorder import ParquetRecorder
    from bayesft_tune.search.searcher import TRIAL_INDEX_KEY, AxSearcher

    def trainable(config):
        index = config[TRIAL_INDEX_KEY]
        if index == 1:
            raise RuntimeError("simulated trainer crash")
        loss = math.nan if index == 2 else (config["dropout_fc1"] - 0.3) ** 2
        tune.report({"epoch": 1, "drifted_loss": loss, "drifted_loss_sem": 0.01})

    searcher = AxSearcher({"dropout_fc1": (0.0, 0.8)}, max_concurrent=1, seed=0)
    recorder = ParquetRecorder(str(tmp_path), "synthetic", Objective("drifted_loss", 0.9, (0.9,), 2), 1,
                               {"target_sigma": 0.9, "samples": 2, "seed": 0}, verbose=False)
    tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=searcher, num_samples=5,
                                                      metric="drifted_loss", mode="min"),
               run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0,
                                         callbacks=[recorder])).fit()
    trials = pd.read_parquet(tmp_path / "trials.parquet").set_index("trial_index")
    assert len(trials) == 5
    assert trials.loc[1, "status"] == "failed" and "simulated trainer crash" in trials.loc[1, "error"]
    assert trials.loc[2, "status"] == "failed" and "non-finite" in trials.loc[2, "error"]
    assert (trials.drop(index=[1, 2]).status == "completed").all()
    ax_status = {i: t.status.name for i, t in searcher.client._experiment.trials.items()}
    assert ax_status[1] == ax_status[2] == "FAILED"


def test_asha_stops_weak_trials_early(ray_session, tmp_path):
    cfg = SearchConfig(trials=8, concurrency=2, epochs=4, samples=2, scheduler="asha",
                       erm_baseline=False, robustness_samples=2, storage_path=str(tmp_path),
                       name="asha", verbose=False)
    trials = run_search(cfg).trials
    stopped = trials[trials.status == "stopped_early"]
    assert len(trials) == 8 and len(stopped) >= 1, trials[["status", "epochs"]]
    assert (stopped.epochs < 4).all()
    assert (trials[trials.status == "completed"].epochs == 4).all()
