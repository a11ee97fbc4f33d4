"""The tuned baselines' random search (``trainables/tuning.py``): what it draws, and that it
returns the candidate that is best on validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bayesft_tune.methods import MethodConfig
from bayesft_tune.objective import Objective
from bayesft_tune.seeds import stream_seed
from bayesft_tune.tasks import get_task
from bayesft_tune.tasks.trial import drift_metrics
from trainables.tuning import TUNED, Knob, _fit, tune_method


def test_a_log_knob_draws_log_uniform_within_its_range():
    values = np.array(Knob("noise_injection", "noise_sigma", 0.1, 10.0, "log").draw(np.random.default_rng(0), 4000))
    assert values.min() >= 0.1 and values.max() <= 10.0
    logs = np.log10(values)  # uniform on [-1, 1]: mean 0, sd 1/sqrt(3); 4000 draws, 4 standard errors
    assert abs(logs.mean()) < 4 * (1 / np.sqrt(3)) / np.sqrt(4000)
    assert abs((values < 1).mean() - 0.5) < 4 * 0.5 / np.sqrt(4000)


def test_an_int_knob_draws_both_ends_and_nothing_else():
    values = Knob("ftna", "ftna_distance", 1, 6, "int").draw(np.random.default_rng(0), 600)
    assert set(values) == {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}


def test_every_tuned_range_is_usable():
    for name, knob in TUNED.items():
        assert knob.low < knob.high, name
        assert knob.scale != "log" or knob.low > 0, name
        draws = knob.draw(np.random.default_rng(1), 50)
        assert min(draws) >= knob.low and max(draws) <= knob.high, name


@pytest.mark.slow
def test_the_chosen_candidate_is_the_best_on_validation():
    task = get_task("mnist_mlp")
    splits = task.splits(None, False, 0)
    cfg = MethodConfig(epochs=1, batch_size=128, lr=1e-3)
    objective = Objective(name="drifted_loss", target_sigma=0.6, grid=(0.6,), samples=4)
    torch.manual_seed(0)
    model, value, score = tune_method("uniform_dropout_tuned", task, splits, cfg, 3, objective, "lognormal",
                                      torch.device("cpu"), trainings=3)
    drawn = TUNED["uniform_dropout_tuned"].draw(np.random.default_rng(stream_seed(3, "tune")), 3)
    scores = {v: drift_metrics(_fit(TUNED["uniform_dropout_tuned"], v, task, splits, cfg, 3, torch.device("cpu")),
                               splits.val, objective, "lognormal", stream_seed(3, "select"))["drifted_loss"]
              for v in drawn}  # each candidate retrained alone: same seed, same network
    assert value == min(scores, key=scores.get)
    assert score == pytest.approx(scores[value], rel=1e-6)
    again = drift_metrics(model, splits.val, objective, "lognormal", stream_seed(3, "select"))["drifted_loss"]
    assert again == pytest.approx(score, rel=1e-6)  # the returned model is the one scored
    assert len(set(scores.values())) == 3 and score < np.log(10)  # distinct candidates, better than chance
