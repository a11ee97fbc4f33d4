"""Monte Carlo robustness evaluation."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from bayesft_tune import UserInputError, build_model, evaluate_under_drift, summarize_drift
from bayesft_tune import evaluation
from bayesft_tune.evaluation import DEFAULT_SIGMAS, as_batches


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (300,), generator=g)
    return TensorDataset(x, y)


def _net(name="mlp"):
    torch.manual_seed(0)
    return build_model(name)


def test_tidy_rows_and_columns(data):
    df = evaluate_under_drift(_net(), data, sigmas=[0.0, 0.5], samples=4, seed=1)
    assert list(df.columns) == ["sigma", "sample", "loss", "accuracy"]
    assert len(df) == 8 and sorted(df["sample"].unique()) == [0, 1, 2, 3]
    assert df["accuracy"].between(0, 1).all()
    zero = df[df.sigma == 0.0]
    assert zero["loss"].nunique() == 1, "σ = 0 is the clean network in every sample"


def test_clean_loss_matches_direct_computation(data):
    net = _net()
    df = evaluate_under_drift(net, data, sigmas=[0.0], samples=1)
    x, y = data.tensors
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(net.eval()(x), y).item()
    assert df.loss.iloc[0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("model", ["mlp", "lenet5"])
@pytest.mark.parametrize("drift", ["lognormal", "gaussian", "stuck_at"])
def test_loop_and_vmap_paths_agree(data, model, drift):
    kw = dict(sigmas=[0.0, 0.2, 0.5], samples=5, seed=7, drift=drift, batch_size=128)
    a = evaluate_under_drift(_net(model), data, method="loop", **kw)
    b = evaluate_under_drift(_net(model), data, method="vmap", vmap_chunk=2, **kw)
    assert (a[["sigma", "sample"]].values == b[["sigma", "sample"]].values).all()
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-4, atol=1e-5)
    assert (a.accuracy - b.accuracy).abs().max() <= 2 / len(data)  # float ties at most


def test_seeded_and_common_random_numbers(data):
    a = evaluate_under_drift(_net(), data, sigmas=[0.3, 0.6], samples=3, seed=5)
    b = evaluate_under_drift(_net(), data, sigmas=[0.6], samples=3, seed=5)
    c = evaluate_under_drift(_net(), data, sigmas=[0.6], samples=3, seed=6)
    np.testing.assert_array_equal(a[a.sigma == 0.6].loss.values, b.loss.values)
    assert not np.array_equal(b.loss.values, c.loss.values)


def test_caller_model_bit_identical_also_on_error(data):
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    evaluate_under_drift(net, data, sigmas=[1.0], samples=2)
    bad = TensorDataset(torch.randn(10, 1, 28, 28), torch.full((10,), 99))  # label out of range
    with pytest.raises(Exception):
        evaluate_under_drift(net, bad, sigmas=[1.0], samples=2)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training, "the caller's train/eval mode is kept"


def test_accepts_dataloader(data):
    loader = DataLoader(data, batch_size=64)
    a = evaluate_under_drift(_net(), loader, sigmas=[0.4], samples=2, seed=3)
    b = evaluate_under_drift(_net(), data, sigmas=[0.4], samples=2, seed=3, batch_size=64)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 64, 299, 300, 1000])
def test_a_tensor_dataset_is_sliced_into_a_dataloaders_batches(data, batch_size):
    sliced = as_batches(data, batch_size, torch.device("cpu"))
    loaded = list(DataLoader(data, batch_size=batch_size))
    assert len(sliced) == len(loaded)
    for (x, y), (lx, ly) in zip(sliced, loaded):
        assert torch.equal(x, lx) and torch.equal(y, ly) and x.dtype == lx.dtype and y.dtype == ly.dtype


class _Rows(torch.utils.data.Dataset):
    """A plain map-style Dataset (not a TensorDataset) over the same rows."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]


@pytest.mark.parametrize("wrap", [lambda d: d, _Rows], ids=["TensorDataset", "Dataset"])
def test_evaluation_leaves_the_global_generator_alone(data, wrap):
    net = _net()
    state = torch.get_rng_state()
    frame = evaluate_under_drift(net, wrap(data), sigmas=[0.0, 0.5], samples=2, seed=1, batch_size=64.0)
    assert torch.equal(torch.get_rng_state(), state), "dropout masks come from this generator"
    np.testing.assert_array_equal(frame.loss, evaluate_under_drift(net, data, sigmas=[0.0, 0.5], samples=2,
                                                                   seed=1, batch_size=64).loss)


def test_vmap_passes_follow_the_weight_budget_and_give_the_loops_rows(data, monkeypatch):
    passes = []
    score = evaluation._score_vmap
    monkeypatch.setattr(evaluation, "_score_vmap", lambda w, p, b: passes.append(len(next(iter(p.values())))) or
                        score(w, p, b))
    kw = dict(sigmas=[0.5], samples=5, seed=3, batch_size=128)
    loop = evaluate_under_drift(_net(), data, method="loop", **kw)
    default = evaluate_under_drift(_net(), data, method="vmap", **kw)
    assert passes == [5], "the MLP's 5 drifted copies fit the default budget: one pass"
    per_sample = sum(p.numel() * p.element_size() for p in _net().parameters())
    monkeypatch.setattr(evaluation, "VMAP_WEIGHT_BUDGET", 2 * per_sample)
    passes.clear()
    small = evaluate_under_drift(_net(), data, method="vmap", **kw)
    assert passes == [2, 2, 1]
    for frame in (default, small):
        np.testing.assert_allclose(frame.loss, loop.loss, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw,match", [
    (dict(batch_size=0), "batch_size must be an integer >= 1; got 0"),
    (dict(sigmas=[-1.0]), "sigma=-1.0"),
    (dict(sigmas=[]), "sigmas is empty"),
    (dict(samples=0), "samples"),
    (dict(drift="nope"), "valid drift models are"),
    (dict(method="fast"), "method must be"),
])
def test_bad_input(data, kw, match):
    with pytest.raises(UserInputError, match=match):
        evaluate_under_drift(_net(), data, **kw)


def test_summary_statistics():
    frame = __import__("pandas").DataFrame({
        "sigma": [0.5] * 4 + [1.0] * 4, "sample": list(range(4)) * 2,
        "loss": [1.0, 2.0, 3.0, 4.0, 2.0, 2.0, 2.0, 2.0],
        "accuracy": [0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5]})
    s = summarize_drift(frame).set_index("sigma")
    std = np.std([1, 2, 3, 4], ddof=1)
    assert s.loc[0.5, "loss_mean"] == pytest.approx(2.5)
    assert s.loc[0.5, "loss_sem"] == pytest.approx(std / 2)
    half = 3.182446305284263 * std / 2  # t_{0.975, 3}
    assert s.loc[0.5, "loss_ci_high"] == pytest.approx(2.5 + half)
    assert s.loc[1.0, "accuracy_ci_low"] == pytest.approx(0.5)
    assert (s["samples"] == 4).all()


def test_ci_covers_true_mean_at_nominal_rate(data):
    """Coverage of the 95% CI over independent seeds (binomial check, 40 runs)."""
    net = _net()
    truth = evaluate_under_drift(net, data, sigmas=[0.8], samples=400, seed=999).loss.mean()
    hits = 0
    for seed in range(40):
        s = summarize_drift(evaluate_under_drift(net, data, sigmas=[0.8], samples=8, seed=seed))
        hits += int(s.loss_ci_low.iloc[0] <= truth <= s.loss_ci_high.iloc[0])
    assert hits >= 33, f"{hits=} of 40 (expect ~38; 33 is ~3 sd below)"


def test_accuracy_falls_with_sigma(mnist):
    from bayesft_tune import TrainConfig, train

    torch.manual_seed(0)
    net = build_model("mlp")
    train(net, mnist.train, TrainConfig(epochs=2, batch_size=128), seed=0)
    s = summarize_drift(evaluate_under_drift(net, mnist.test, sigmas=DEFAULT_SIGMAS, samples=8))
    acc = s.accuracy_mean.values
    assert acc[0] > 0.85 and acc[-1] < acc[0] - 0.2
    assert (np.diff(acc) < 0.02).all(), f"accuracy should fall with σ: {acc}"
