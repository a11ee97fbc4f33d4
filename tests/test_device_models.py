"""The device models' published statistics, checked in closed form (n = 200,000 devices,
tolerances ~5 standard errors): PCM programming noise, drift and read noise; NeuRRAM's
deviation polynomials; global drift compensation."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm

from bayesft_tune import UserInputError, get_drift
from bayesft_tune.drift import PCMDrift, ReRAMWan2022Drift
from bayesft_tune.drift._conductance import to_conductances, to_weights

N = 200_000
YEAR = 365 * 86400.0


def _normals(seed: int, k: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(N, generator=gen, dtype=torch.float64) for _ in range(k)]


def _within(sample: torch.Tensor, expected: float, sd: float) -> bool:
    return abs(sample.mean().item() - expected) < 5 * sd / math.sqrt(N)


def _std_within(sample: torch.Tensor, expected: float) -> bool:
    return abs(sample.std().item() - expected) < 5 * expected / math.sqrt(2 * N)


@pytest.mark.parametrize("g", [2.0, 10.0, 20.0])
def test_pcm_programming_noise_std_is_the_polynomial(g):
    pcm, (z1, z2, z3) = PCMDrift(), _normals(0)
    prog, _ = pcm.device(torch.full((N,), g, dtype=torch.float64), (z1, z2, 0 * z3), 3600.0)
    x = g / 25.0
    assert _std_within(prog, 0.26348 + 1.9650 * x - 1.1731 * x**2)


@pytest.mark.parametrize("g, t", [(5.0, 3600.0), (20.0, YEAR), (1.0, 86400.0)])
def test_pcm_mean_drift_factor_is_its_expectation_over_nu(g, t):
    pcm, (z1, z2, z3) = PCMDrift(), _normals(1)
    prog, now = pcm.device(torch.full((N,), g, dtype=torch.float64), (0 * z1, z2, 0 * z3), t)
    factor = now / prog
    log_x = math.log(g / 25.0)
    mu, sd = min(max(-0.0155 * log_x + 0.0244, 0.049), 0.1), min(max(-0.0125 * log_x - 0.0059, 0.008), 0.045)
    a = math.log((t + 20.0) / 20.0)  # E[r^-|X|], X ~ N(mu, sd²), r = (t + t0)/t0: a folded normal's Laplace transform
    expected = (math.exp(-a * mu + (a * sd) ** 2 / 2) * norm.cdf(mu / sd - a * sd)
                + math.exp(a * mu + (a * sd) ** 2 / 2) * norm.cdf(-mu / sd - a * sd))
    assert _within(factor, expected, factor.std().item())


@pytest.mark.parametrize("g, t", [(20.0, YEAR), (10.0, 3600.0)])
def test_pcm_read_noise_std_is_as_stated(g, t):
    pcm, (z1, z2, z3) = PCMDrift(), _normals(2)
    target = torch.full((N,), g, dtype=torch.float64)
    _, drifted = pcm.device(target, (0 * z1, z2, 0 * z3), t)
    _, now = pcm.device(target, (0 * z1, z2, z3), t)
    q = min(0.0088 / (g / 25.0) ** 0.65, 0.2)
    assert _std_within(now / drifted - 1, q * math.sqrt(math.log((t + 20.0 + 250e-9) / (2 * 250e-9))))


@pytest.mark.parametrize("t, coeffs", sorted(ReRAMWan2022Drift.COEFFS.items()))
def test_reram_deviation_std_is_the_measured_polynomial(t, coeffs):
    (z,) = _normals(3, 1)
    g = 20.0
    _, now = ReRAMWan2022Drift().device(torch.full((N,), g, dtype=torch.float64), (z,), t)
    assert _std_within(now - g, sum(c * (g / 40.0) ** i for i, c in enumerate(coeffs)))


def test_reram_knows_only_its_measured_times():
    with pytest.raises(UserInputError, match=r"only the time levels \[0.0, 1.0, 86400.0, 172800.0\]"):
        get_drift("reram_wan2022").check_level(3600.0)


def test_the_mapping_is_a_differential_pair_with_max_abs_at_g_max():
    w = torch.tensor([-2.0, -0.5, 0.0, 1.0, 2.0], dtype=torch.float64)
    plus, minus = to_conductances(w, w.abs().max(), 25.0)
    assert plus.tolist() == [0, 0, 0, 12.5, 25] and minus.tolist() == [25, 6.25, 0, 0, 0]
    assert torch.equal(to_weights(plus, minus, w.abs().max(), 25.0), w)


def test_gdc_undoes_the_mean_drift_of_a_layer():
    w = torch.randn(N, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    noise = PCMDrift().draw(N, torch.Generator().manual_seed(5), w.device, w.dtype)
    raw = PCMDrift(gdc=False).apply(w, noise, YEAR, w.abs().max())
    compensated = PCMDrift(gdc=True).apply(w, noise, YEAR, w.abs().max())
    slope = lambda out: float((out * w).sum() / (w * w).sum())  # least-squares gain of drifted on clean
    assert slope(raw) < 0.8 and abs(slope(compensated) - 1) < 0.05
