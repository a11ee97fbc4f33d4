"""Log-normal multiplicative drift (the paper's Eq. 1)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bayesft_tune.drift._base import DriftModel


class LogNormalDrift(DriftModel):
    """Multiplicative log-normal conductance drift, the paper's Eq. (1).

    Physics: a ReRAM cell's conductance relaxes and fluctuates multiplicatively
    (thermal and electrical noise, programming error), so a stored weight is scaled
    by a positive random factor, independently per cell:

        θ' = θ · exp(λ),   λ ~ N(0, σ²) i.i.d. per element.

    Moments of the factor: ``E[exp(λ)] = exp(σ²/2)``,
    ``Var[exp(λ)] = (exp(σ²) - 1) · exp(σ²)``. σ is unitless (log-conductance std).
    """

    name = "lognormal"

    def draw(self, numel: int, generator: torch.Generator, device: torch.device,
             dtype: torch.dtype) -> Tensor:
        return torch.randn(numel, generator=generator, device=device, dtype=dtype)

    def apply(self, weights: Tensor, noise: Tensor, sigma: float, max_abs: Tensor,
              groups: Tensor | None = None) -> Tensor:
        return weights * torch.exp(noise * sigma)

    def apply_into(self, out: Tensor, weights: Tensor, noise: Tensor, sigma: float,
                   max_abs: Tensor, groups: Tensor | None = None) -> None:
        torch.mul(noise, sigma, out=out)
        out.exp_().mul_(weights)

    def moments(self, weights: Tensor, sigma: float, max_abs: Tensor) -> tuple[Tensor, Tensor]:
        s2 = sigma**2
        return weights * math.exp(s2 / 2), weights**2 * (math.exp(s2) - 1) * math.exp(s2)
