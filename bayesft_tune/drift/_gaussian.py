"""Additive Gaussian drift relative to each tensor's largest weight."""

from __future__ import annotations

import torch
from torch import Tensor

from bayesft_tune.drift._base import DriftModel


class GaussianDrift(DriftModel):
    """Additive programming noise, scaled to each tensor's conductance range.

    Physics: write-verify programming leaves each cell within a tolerance band whose
    width is a fixed fraction of the crossbar's conductance range; mapped back to
    weights, that range is ``max |w|`` of the tensor (layer) the cell stores:

        θ' = θ + ε,   ε ~ N(0, (σ · max|w|)²) i.i.d. per element.

    Moments: ``E[θ' - θ] = 0``, ``Var[θ' - θ] = (σ · max|w|)²``. σ is a fraction of
    the tensor's largest magnitude.
    """

    name = "gaussian"

    def draw(self, numel: int, generator: torch.Generator, device: torch.device,
             dtype: torch.dtype) -> Tensor:
        return torch.randn(numel, generator=generator, device=device, dtype=dtype)

    def apply(self, weights: Tensor, noise: Tensor, sigma: float, max_abs: Tensor,
              groups: Tensor | None = None) -> Tensor:
        return weights + noise * (sigma * max_abs)

    def moments(self, weights: Tensor, sigma: float, max_abs: Tensor) -> tuple[Tensor, Tensor]:
        return weights.clone(), ((sigma * max_abs) ** 2).expand_as(weights).clone()
