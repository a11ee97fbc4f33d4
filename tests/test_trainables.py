"""The typed trial contract: task table, search space, trial spec, objective and seed streams (no Ray)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bayesft_tune import build_model, evaluate_under_drift, get_drift
from bayesft_tune.errors import UserInputError
from bayesft_tune.objective import Objective
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.seeds import PURPOSES, stream_seed
from bayesft_tune.tasks import KNOBS, Knobs, Space, TrialSpec, build_network, get_task, model_from_state
from bayesft_tune.tasks.space import ChoiceParam, RangeParam, budget_widths


def test_task_table_names_slots_and_lists_names_on_error():
    assert get_task("mnist_mlp").parameter_names() == ["dropout_fc1", "dropout_fc2"]
    assert get_task("mnist_lenet5").parameter_names() == [
        "dropout_conv1", "dropout_conv2", "dropout_fc1", "dropout_fc2"]
    with pytest.raises(UserInputError, match="mnist_mlp"):
        get_task("mnist")


def test_objective_scores_loss_at_target_and_grid_accuracy_per_draw(mnist):
    torch.manual_seed(0)
    net = build_model("mlp")
    obj = Objective("grid_accuracy", 0.6, (0.3, 0.9), samples=6)
    assert obj.direction == "max" and obj.eval_sigmas == [0.3, 0.6, 0.9]
    rows = evaluate_under_drift(net, mnist.val, obj.eval_sigmas, samples=6, seed=11)
    scores = obj.score(rows)
    at = rows[rows.sigma == 0.6]
    assert scores["drifted_loss"] == pytest.approx(at.loss.mean())
    assert scores["drifted_loss_sem"] == pytest.approx(at.loss.std(ddof=1) / np.sqrt(6))
    per_draw = rows[rows.sigma.isin([0.3, 0.9])].groupby("sample").accuracy.mean()
    assert scores["grid_accuracy"] == pytest.approx(per_draw.mean())
    assert scores["grid_accuracy_sem"] == pytest.approx(per_draw.std(ddof=1) / np.sqrt(6))
    loss = Objective("drifted_loss", 0.9, (0.3,), 4)
    assert loss.direction == "min" and loss.eval_sigmas == [0.9] and loss.better(1.0, 2.0)
    with pytest.raises(UserInputError, match="samples"):
        Objective("drifted_loss", 0.9, (0.3,), 1)


@pytest.mark.parametrize("task", ["mnist_mlp", "mnist_lenet5"])
def test_width_knob_never_exceeds_the_task_networks_parameter_budget(task):
    t = get_task(task)
    budget = t.parameter_count()
    rng = np.random.default_rng(0)
    assert budget_widths(t, (1.0,) * (len(t.base_widths) - 1)) == t.base_widths
    for _ in range(20):
        ratios = tuple(np.exp(rng.uniform(np.log(0.125), np.log(8.0), len(t.base_widths) - 1)))
        norm = str(rng.choice(["none", "layer", "batch"]))
        widths = budget_widths(t, ratios, norm=norm)
        used = t.parameter_count(widths=widths, norm=norm)
        assert used <= budget and used >= 0.9 * budget, (widths, used, budget)


def test_space_parameters_and_knobs_round_trip_through_a_checkpoint_state():
    task = get_task("mnist_mlp")
    space = Space(knobs=KNOBS)
    params = space.parameters(task)
    names = [p.name for p in params]
    assert names == ["dropout_fc1", "dropout_fc2", "noise_injection", "width_ratio_2", "activation", "norm",
                     "lr", "weight_decay"]
    assert isinstance(params[4], ChoiceParam) and isinstance(params[3], RangeParam) and params[3].log
    knobs = space.knobs_for(task, {"dropout_fc1": 0.3, "dropout_fc2": 0.5, "noise_injection": 0.4,
                                   "width_ratio_2": 6.0, "activation": "gelu", "norm": "layer", "lr": 3e-3,
                                   "weight_decay": 1e-4})
    assert knobs.widths[1] > 100 and knobs.activation == "gelu" and knobs.lr == 3e-3
    assert Knobs.from_dict(json.loads(json.dumps(knobs.to_dict()))) == knobs
    torch.manual_seed(0)
    net = build_network(task, knobs)
    rebuilt = model_from_state({"task": "mnist_mlp", "knobs": knobs.to_dict(),
                                "trainer": {"model": net.state_dict()}})
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(net.eval()(x), rebuilt(x))
    with pytest.raises(UserInputError, match="no \\['width'\\] knob"):
        Space(knobs=("dropout", "width")).parameters(get_task("cifar10_vgg11"))
    with pytest.raises(UserInputError, match="knobs"):
        Space(knobs=("dropout", "depth"))


def test_trial_spec_round_trips_through_a_tune_config():
    cfg = SearchConfig(epochs=4, eval_every=2, seed=3, data_seed=7)
    spec = cfg.trial_spec((2,))
    config = json.loads(json.dumps(spec.to_config({"dropout_fc1": 0.1})))
    back = TrialSpec.from_config(config)
    assert back == spec and back.eval_epochs == (2, 4) and back.data_seed == 7
    assert back.train_seed == stream_seed(3, "train") and back.select_seed == stream_seed(3, "select")
    with pytest.raises(UserInputError, match="spec"):
        TrialSpec.from_config({"dropout_fc1": 0.1})


def test_paper_mode_and_default_mode_resolve_objective_and_training():
    paper = SearchConfig(space=("dropout",))
    assert paper.resolved_objective().name == "drifted_loss" and paper.resolved_training() == "drifted"
    assert paper.search_space().fixed_noise == paper.target_sigma  # Algorithm 1: θ on the drifted loss
    clean = SearchConfig(space=("dropout",), training="clean")
    assert clean.search_space().fixed_noise == 0.0
    default = SearchConfig()
    assert default.space == ("dropout", "width", "noise") and default.resolved_objective().name == "grid_accuracy"
    assert SearchConfig(task="cifar10_vgg11").space == ("dropout", "noise")
    with pytest.raises(UserInputError, match="warm-start"):
        SearchConfig(mode="warm_start")


def test_seed_streams_are_distinct_and_the_first_test_draw_differs_from_the_first_selection_draw():
    drift = get_drift("lognormal")
    for run_seed in range(5):
        seeds = {p: stream_seed(run_seed, p) for p in PURPOSES}
        assert len(set(seeds.values())) == len(PURPOSES)
        first = {p: drift.draw(1, torch.Generator().manual_seed(seeds[p]), torch.device("cpu"), torch.float32)
                 for p in ("select", "test")}
        assert not torch.equal(first["select"], first["test"])
    assert stream_seed(0, "test") == stream_seed(0, "test")
    with pytest.raises(UserInputError, match="seed"):
        stream_seed(-1, "test")
