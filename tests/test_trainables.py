"""The trainables' objective metrics (no Ray needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bayesft_tune import build_model, evaluate_under_drift
from trainables import TASKS, get_task
from trainables._common import drift_scores


def test_tasks_registry_has_mnist_tasks_and_lists_names_on_error():
    assert {"mnist_mlp", "mnist_lenet5"} <= set(TASKS)
    assert get_task("mnist_mlp").parameter_names() == ["dropout_fc1", "dropout_fc2"]
    assert get_task("mnist_lenet5").parameter_names() == [
        "dropout_conv1", "dropout_conv2", "dropout_fc1", "dropout_fc2"]
    with pytest.raises(Exception, match="mnist_mlp"):
        get_task("mnist")


def test_drift_scores_objective_and_grid_accuracy(mnist):
    torch.manual_seed(0)
    net = build_model("mlp")
    cfg = {"target_sigma": 0.6, "samples": 6, "drift": "lognormal", "eval_seed": 11,
           "objective_sigmas": [0.3, 0.9]}
    scores = drift_scores(net, mnist.val, cfg)
    rows = evaluate_under_drift(net, mnist.val, [0.3, 0.6, 0.9], samples=6, seed=11)
    at = rows[rows.sigma == 0.6]
    assert scores["drifted_loss"] == pytest.approx(at.loss.mean())
    assert scores["drifted_loss_sem"] == pytest.approx(at.loss.std(ddof=1) / np.sqrt(6))
    per_sample = rows[rows.sigma.isin([0.3, 0.9])].groupby("sample").accuracy.mean()
    assert scores["grid_accuracy"] == pytest.approx(per_sample.mean())
    assert scores["grid_accuracy_sem"] == pytest.approx(per_sample.std(ddof=1) / np.sqrt(6))
