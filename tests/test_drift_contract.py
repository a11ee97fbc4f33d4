"""Contract every registered drift model must pass (one suite, all models)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bayesft_tune import UserInputError, drift_names, get_drift

ALL = drift_names()
SIGMA = {"lognormal": 0.5, "gaussian": 0.5, "stuck_at": 0.2, "pcm": 3600.0, "reram_wan2022": 86400.0}
"""A level of each model's own axis (σ, a fault fraction, seconds since programming)."""


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():  # non-zero norm affine too, so every tensor can visibly drift
        for p in net.parameters():
            p.normal_()
    return net


def test_registry_lists_paper_models():
    assert {"lognormal", "gaussian", "stuck_at"} <= set(ALL)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UserInputError, match="lognormal"):
        get_drift("log-normal")


@pytest.mark.parametrize("name", ALL)
def test_sigma_zero_is_identity(name):
    net = _net()
    out = get_drift(name).perturb(net, 0.0, torch.Generator().manual_seed(1))
    for a, b in zip(net.parameters(), out.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_kept(name, dtype):
    net = _net().to(dtype)
    out = get_drift(name).perturb(net, SIGMA[name], torch.Generator().manual_seed(1))
    for a, b in zip(net.parameters(), out.parameters()):
        assert (a.shape, a.dtype, a.device) == (b.shape, b.dtype, b.device)
    assert any(not torch.equal(a, b) for a, b in zip(net.parameters(), out.parameters()))


@pytest.mark.parametrize("name", ALL)
def test_seeded_draws_repeat_and_differ(name):
    net, drift = _net(), get_drift(name)
    draw = lambda s: torch.cat([p.flatten() for p in drift.perturb(
        net, SIGMA[name], torch.Generator().manual_seed(s)).parameters()])
    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


@pytest.mark.parametrize("name", ALL)
def test_original_model_never_modified(name):
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    get_drift(name).perturb(net, SIGMA[name], torch.Generator().manual_seed(1))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("name", ALL)
def test_all_parameters_drift_by_default_and_filter_restricts(name):
    net, drift = _net(), get_drift(name)
    sigma = 0.9 if name == "stuck_at" else SIGMA[name]  # a 3-element bias must get a fault
    out = drift.perturb(net, sigma, torch.Generator().manual_seed(2))
    changed = [not torch.equal(a, b) for a, b in zip(net.parameters(), out.parameters())]
    assert all(changed), "weights, biases and norm affine all drift by default"
    only_w = drift.perturb(net, sigma, torch.Generator().manual_seed(2), params="weights")
    for (n, a), b in zip(net.named_parameters(), only_w.parameters()):
        assert torch.equal(a, b) == (a.ndim < 2), n


# ---- moments against theory (n = 200,000 elements; tolerance ~5 standard errors) ----
N = 200_000


def _factor_samples(name: str, sigma: float, w: torch.Tensor) -> torch.Tensor:
    drift = get_drift(name)
    gen = torch.Generator().manual_seed(123)
    noise = drift.draw(w.numel(), gen, w.device, w.dtype)
    return drift.apply(w, noise, sigma, w.abs().max())


def _scaled(name: str, scale: float) -> float:
    """A lower (scale 0.5) or higher (2.0) level than SIGMA's, on the model's own axis."""
    times = {"pcm": {0.5: 60.0, 2.0: 3.15e7}, "reram_wan2022": {0.5: 1.0, 2.0: 172800.0}}
    if name in times:
        return times[name][scale]
    return SIGMA[name] * scale if name != "stuck_at" else SIGMA[name] * min(scale, 1.0)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("scale", [0.5, 2.0])
@pytest.mark.parametrize("weight", [0.7, -1.3])
def test_moments_match_theory(name, scale, weight):
    """Sample mean and variance of N draws of one weight lie within ~5 standard errors
    of the model's theoretical moments (for lognormal: mean factor exp(σ²/2),
    variance (exp(σ²)-1)·exp(σ²))."""
    sigma = _scaled(name, scale)
    drift = get_drift(name)
    w = torch.full((N,), weight, dtype=torch.float64)
    max_abs = torch.tensor(2.0, dtype=torch.float64)
    noise = drift.draw(N, torch.Generator().manual_seed(123), w.device, w.dtype)
    x = drift.apply(w, noise, sigma, max_abs)
    mean, var = (m[0].item() for m in drift.moments(w, sigma, max_abs))
    assert abs(x.mean().item() - mean) < 5 * math.sqrt(var / N)
    fourth = ((x - x.mean()) ** 4).mean().item()  # standard error of the sample variance
    assert abs(x.var().item() - var) < 5 * math.sqrt(max(fourth - var**2, 1e-30) / N)


def test_lognormal_theory_is_the_papers():
    w, s = torch.ones(1, dtype=torch.float64), 0.8
    mean, var = get_drift("lognormal").moments(w, s, w)
    assert mean.item() == pytest.approx(math.exp(s**2 / 2))
    assert var.item() == pytest.approx((math.exp(s**2) - 1) * math.exp(s**2))


@pytest.mark.parametrize("sigma", [0.05, 0.3])
def test_stuck_at_rates(sigma):
    w = torch.linspace(-1, 1, N, dtype=torch.float64)
    w = w[w != 0]
    out = _factor_samples("stuck_at", sigma, w)
    p_off, p_on = sigma * 0.5, sigma * 0.5
    n = w.numel()
    frac_off = (out == 0).double().mean().item()
    frac_on = ((out.abs() == 1.0) & (w.abs() != 1.0)).double().mean().item()
    assert abs(frac_off - p_off) < 5 * math.sqrt(p_off * (1 - p_off) / n)
    assert abs(frac_on - p_on) < 5 * math.sqrt(p_on * (1 - p_on) / n)
    stuck_on = (out.abs() == 1.0) & (w.abs() != 1.0)
    assert torch.equal(torch.sign(out[stuck_on]), torch.sign(w[stuck_on]))


def test_stuck_at_rejects_fraction_above_one():
    with pytest.raises(UserInputError, match="fraction"):
        get_drift("stuck_at").perturb(_net(), 1.5, torch.Generator().manual_seed(0))


def test_negative_sigma_rejected():
    with pytest.raises(UserInputError, match="sigma=-0.1"):
        get_drift("lognormal").perturb(_net(), -0.1, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ALL)
def test_apply_into_equals_apply(name):
    drift, w = get_drift(name), torch.randn(1000, dtype=torch.float64)
    noise = drift.draw(1000, torch.Generator().manual_seed(0), w.device, w.dtype)
    out = torch.empty_like(w)
    drift.apply_into(out, w, noise, SIGMA[name], w.abs().max())
    assert torch.equal(out, drift.apply(w, noise, SIGMA[name], w.abs().max()))
