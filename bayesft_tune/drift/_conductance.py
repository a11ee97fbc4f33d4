"""Weights as conductances: the differential-pair mapping, global drift compensation and the
one-dimensional integrals behind the device models' theoretical moments.

Mapping (shared by every device model): a weight ``w`` of a tensor whose largest magnitude
is ``M`` is stored on a pair of devices, ``w ∝ g⁺ − g⁻``, with ``g⁺ = g_max·max(w, 0)/M``
and ``g⁻ = g_max·max(−w, 0)/M`` (µS); the tensor's ``max|w|`` maps to ``g_max``. Read
back, ``w' = (g⁺ − g⁻)·M/g_max``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["gdc_factor", "normal_grid", "poly", "rectified_moments", "to_conductances", "to_weights"]


def to_conductances(weights: Tensor, max_abs: Tensor, g_max: float) -> tuple[Tensor, Tensor]:
    """Target conductances ``(g⁺, g⁻)`` in µS of each weight (``max_abs``: its tensor's ``max|w|``)."""
    scale = g_max / torch.clamp(max_abs, min=torch.finfo(weights.dtype).tiny)
    return torch.clamp(weights, min=0) * scale, torch.clamp(-weights, min=0) * scale


def to_weights(g_plus: Tensor, g_minus: Tensor, max_abs: Tensor, g_max: float) -> Tensor:
    """Weights read back from a device pair's conductances (µS)."""
    return (g_plus - g_minus) * (max_abs / g_max)


def poly(coeffs: tuple[float, ...], x: Tensor) -> Tensor:
    """``Σ_i c_i x^i``."""
    out = torch.full_like(x, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        out = out * x + c
    return out


def gdc_factor(programmed: Tensor, now: Tensor, groups: Tensor | None) -> Tensor:
    """Global drift compensation: per group (one tensor, i.e. one crossbar), the ratio of the
    total conductance right after programming to the total now, broadcast to every weight.

    Both arguments are ``g⁺ + g⁻`` per weight, shape ``(..., N)``; ``groups`` (``N`` group
    indices, None: one group) says which tensor each weight belongs to. This is the mean
    conductance ratio the peripheral circuit measures when it reads a fixed calibration
    input through the layer (aihwkit's ``GlobalDriftCompensation`` reads all-ones).
    """
    if groups is None:
        ratio = programmed.sum(-1, keepdim=True) / now.sum(-1, keepdim=True).clamp(min=1e-30)
        return ratio.expand_as(now)
    count = int(groups.max()) + 1
    zeros = torch.zeros(*now.shape[:-1], count, dtype=now.dtype, device=now.device)
    ratio = zeros.index_add(-1, groups, programmed) / zeros.index_add(-1, groups, now).clamp(min=1e-30)
    return ratio[..., groups]


def normal_grid(points: int = 4001, width: float = 9.0, dtype=torch.float64) -> tuple[Tensor, Tensor]:
    """Nodes ``z`` and trapezoid weights ``φ(z)·dz`` of a standard normal on ``[−width, width]``."""
    z = torch.linspace(-width, width, points, dtype=dtype)
    w = torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    w[0] = w[-1] = w[0] / 2
    return z, w


def rectified_moments(mean: Tensor, std: Tensor) -> tuple[Tensor, Tensor]:
    """``E[Y⁺]`` and ``E[(Y⁺)²]`` of ``Y ~ N(mean, std²)`` (``std > 0``)."""
    normal = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    r = mean / std
    cdf, pdf = normal.cdf(r), torch.exp(normal.log_prob(r))
    return mean * cdf + std * pdf, (mean**2 + std**2) * cdf + mean * std * pdf
