"""A run directory has one identity: names are never reused silently, a copied run resumes in
place without touching the original, and the returned network loads back from the directory."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import torch

from bayesft_tune import evaluate_under_drift, load_data, load_trial_model
from bayesft_tune.errors import UserInputError
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.run_dir import CONFIG_FILE
from bayesft_tune.search.rundir import load_config, save_config
from bayesft_tune.search.runner import resume_search, run_search
from bayesft_tune.seeds import stream_seed


def test_a_taken_run_name_is_refused_before_anything_is_written(tmp_path):
    cfg = SearchConfig(storage_path=str(tmp_path), name="taken", trials=2)
    save_config(cfg, str(tmp_path / "taken"))
    before = (tmp_path / "taken" / CONFIG_FILE).read_bytes()
    with pytest.raises(UserInputError, match="--resume .*--name"):
        run_search(SearchConfig(storage_path=str(tmp_path), name="taken", trials=5, bounds=(0.1, 0.5)))
    assert (tmp_path / "taken" / CONFIG_FILE).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == [CONFIG_FILE]


def test_an_invalid_saved_config_is_a_clear_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        load_config(str(tmp_path))


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = SearchConfig(trials=3, concurrency=1, epochs=1, samples=2, robustness_samples=4,
                       storage_path=str(root), name="orig", verbose=False)
    return run_search(cfg), root


@pytest.mark.slow
def test_a_copied_run_resumes_in_its_new_place_and_never_touches_the_original(finished):
    outcome, root = finished
    original = {p.name: p.read_bytes() for p in (root / "orig").iterdir() if p.is_file()}
    shutil.copytree(root / "orig", root / "copy")
    for _ in range(2):  # resumed twice
        resumed = resume_search(str(root / "copy"))
        trials = pd.read_parquet(root / "copy" / "trials.parquet")
        assert len(trials) == 3 and trials.trial_id.is_unique and resumed.run_dir == str(root / "copy")
    assert {p.name: p.read_bytes() for p in (root / "orig").iterdir() if p.is_file()} == original


@pytest.mark.slow
def test_load_trial_model_returns_the_network_of_the_test_table(finished):
    outcome, root = finished
    model = load_trial_model(str(root / "orig"))
    assert not model.training
    chosen = outcome.selection[outcome.selection.chosen].trial_id.iloc[0]
    test = load_data("mnist_embedded", seed=0).test
    frame = evaluate_under_drift(model, test, [0.0, 0.9], samples=4, seed=stream_seed(0, "test"))
    rob = outcome.robustness[outcome.robustness.method == "bayesft"].set_index("sigma")
    assert rob.trial_id.iloc[0] == chosen
    for sigma in (0.0, 0.9):
        assert frame[frame.sigma == sigma].accuracy.mean() == pytest.approx(rob.loc[sigma, "accuracy_mean"])
    other = outcome.trials[outcome.trials.trial_id != chosen].trial_id.iloc[0]
    assert isinstance(load_trial_model(str(root / "orig"), other), torch.nn.Module)
    with pytest.raises(UserInputError, match="no trial"):
        load_trial_model(str(root / "orig"), "nope")


@pytest.mark.slow
def test_lost_or_truncated_tables_are_rebuilt_from_the_trials_results(finished, tmp_path, capsys):
    from bayesft_tune.cli import main

    outcome, root = finished
    run = tmp_path / "run"
    shutil.copytree(root / "orig", run)
    want = pd.read_parquet(run / "trials.parquet").set_index("trial_id").sort_index()
    history = pd.read_parquet(run / "history.parquet")
    (run / "trials.parquet").write_bytes((run / "trials.parquet").read_bytes()[:100])  # truncated
    (run / "history.parquet").unlink()
    assert main(["repair", str(run)]) == 0 and "3 trials" in capsys.readouterr().out
    got = pd.read_parquet(run / "trials.parquet").set_index("trial_id").sort_index()
    assert list(got.index) == list(want.index) and (got.status == "completed").all()
    for col in ("objective_mean", "clean_accuracy", "width_1", "noise_injection", "trial_index"):
        pd.testing.assert_series_equal(got[col], want[col])
    assert len(pd.read_parquet(run / "history.parquet")) == len(history)
    broken = tmp_path / "broken"
    shutil.copytree(root / "orig", broken)
    victim = want.index[0]  # a garbage result.json: the trial keeps the rows it had
    (broken / f"trial_{victim}" / "result.json").write_text("not json\n")
    for state in broken.glob("experiment_state-*.json"):  # a killed driver's state: every trial "RUNNING"
        state.write_text(state.read_text().replace("TERMINATED", "RUNNING"))
    assert main(["repair", str(broken)]) == 0
    again = pd.read_parquet(broken / "trials.parquet").set_index("trial_id").sort_index()
    assert list(again.index) == list(want.index) and (again.status == "completed").all()
    assert again.loc[victim, "objective_mean"] == want.loc[victim, "objective_mean"]
    assert len(pd.read_parquet(broken / "history.parquet")) == len(history)
    (run / "trials.parquet").unlink()
    resumed = resume_search(str(run))  # a resume rebuilds first: every finished trial, once
    assert len(resumed.trials) == 3 and resumed.trials.trial_id.is_unique


@pytest.mark.slow
def test_a_search_where_every_trial_fails_is_an_error_and_claims_no_table(ray_session, tmp_path):
    cfg = SearchConfig(task="mnist_mlp", space="dropout", objective="drifted_loss", lr=1e30, trials=2,
                       concurrency=1, epochs=1, samples=2, storage_path=str(tmp_path), name="nan", clean_guard=None,
                       erm_baseline=False, max_failures=0, verbose=False)  # every trial's loss is non-finite
    with pytest.raises(UserInputError, match="no trial of the search completed.*non-finite drifted_loss"):
        run_search(cfg)
    assert not (tmp_path / "nan" / "robustness.parquet").exists()
    assert (pd.read_parquet(tmp_path / "nan" / "trials.parquet").status == "failed").all()


@pytest.mark.slow
def test_a_local_search_whose_data_cannot_load_stops_before_any_trial(ray_session, tmp_path):
    cfg = SearchConfig(task="cifar10_vgg11", data_dir=str(tmp_path / "no-such-data"), trials=2, concurrency=1,
                       epochs=1, samples=2, storage_path=str(tmp_path), name="nodata", clean_guard=None,
                       erm_baseline=False, verbose=False)  # the driver loads the trials' data (to share it) first
    with pytest.raises(UserInputError, match="could not load CIFAR10 from .*no-such-data.*--data-dir"):
        run_search(cfg)
    assert not list((tmp_path / "nodata").glob("trial_*")) and not (tmp_path / "nodata" / "trials.parquet").exists()
