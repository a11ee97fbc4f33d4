"""A local search's driver shares its copy of the trials' data split with the trial workers
through Ray's object store (``tuner.trainable(cfg, splits)``): no worker loads the dataset."""

from __future__ import annotations

import pytest
import torch
from ray import tune
from torch.utils.data import TensorDataset

from bayesft_tune.data import Splits
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.driver_jobs import start_reference
from bayesft_tune.search.tuner import search_spec, trainable
from bayesft_tune.tasks.trial import cached_data


@pytest.mark.slow
def test_a_trial_trains_and_scores_on_the_split_the_driver_shares(ray_session, tmp_path):
    cfg = SearchConfig(task="mnist_mlp", space="dropout", epochs=1, samples=2, trials=1, concurrency=1,
                       verbose=False)
    spec = search_spec(cfg)
    same_digit = TensorDataset(torch.zeros(20, 1, 28, 28), torch.full((20,), 3, dtype=torch.int64))
    shared = Splits(same_digit, same_digit, same_digit, 10, (1, 28, 28))
    tuner = tune.Tuner(trainable(cfg, shared), param_space=spec.to_config({"dropout_fc1": 0.1, "dropout_fc2": 0.1}),
                       tune_config=tune.TuneConfig(num_samples=1),
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="shared", verbose=0))
    result = tuner.fit()[0]
    assert result.error is None
    # Every validation image is the same blank "3": the network gets all or none right. The
    # embedded split's 500 real digits would give neither after one epoch.
    assert result.metrics["clean_accuracy"] in (0.0, 1.0)
    assert result.metrics["parameter_count"] > 0 and result.metrics["epoch"] == 1


def test_a_local_search_prepares_the_split_its_trials_would_load(tmp_path):
    cfg = SearchConfig(task="mnist_mlp", clean_guard=None, erm_baseline=False, storage_path=str(tmp_path),
                       name="prep", verbose=False)  # no reference: the split is loaded for the trials alone
    spec = search_spec(cfg)
    prepared = start_reference(cfg, spec, str(tmp_path / "prep"))()
    assert prepared.reference is None
    assert prepared.splits is cached_data("mnist_embedded", None, False, cfg.train.data_seed)
    assert len(prepared.splits.train) == 3500 and len(prepared.splits.val) == 500


def test_a_cluster_search_leaves_the_data_to_its_workers(tmp_path):
    cfg = SearchConfig(task="mnist_mlp", clean_guard=None, erm_baseline=False, address="10.0.0.1:6379",
                       storage_path=str(tmp_path), name="prep", verbose=False)
    prepared = start_reference(cfg, search_spec(cfg), str(tmp_path / "prep"))()
    assert prepared.splits is None  # the driver may not see the cluster's data directory
