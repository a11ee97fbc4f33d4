"""Stuck-at faults: cells frozen at their lowest or highest conductance."""

from __future__ import annotations

import torch
from torch import Tensor

from bayesft_tune.drift._base import DriftModel
from bayesft_tune.errors import UserInputError


class StuckAtDrift(DriftModel):
    """Stuck-at-fault cells (stuck-off / stuck-on).

    Physics: forming failures and endurance wear-out leave a cell stuck at its
    lowest conductance (stuck-off: the weight reads 0) or highest (stuck-on: the
    weight reads the full range ``±max|w|`` of its tensor, keeping its sign).
    Here σ ∈ [0, 1] is the fraction of faulty cells; a fraction ``p_on`` of the
    faults is stuck-on. With ``u ~ U(0, 1)`` i.i.d. per element:

        θ' = sign(θ)·max|w|   if u < σ·p_on
        θ' = 0                if σ·p_on <= u < σ
        θ' = θ                otherwise.

    Moments: ``P(θ' = 0 | θ ≠ 0) = σ(1 - p_on)``, ``P(|θ'| = max|w|) >= σ·p_on``.
    A zero weight stuck-on reads ``+max|w|``.
    """

    name = "stuck_at"
    axis = "p"

    def __init__(self, p_on: float = 0.5) -> None:
        if not 0.0 <= p_on <= 1.0:
            raise UserInputError(f"stuck_at p_on (share of faults stuck-on) must be in [0, 1]; "
                                 f"got p_on={p_on!r}. Pass e.g. p_on=0.5.")
        self.p_on = float(p_on)

    def draw(self, numel: int, generator: torch.Generator, device: torch.device,
             dtype: torch.dtype) -> Tensor:
        return torch.rand(numel, generator=generator, device=device, dtype=dtype)

    def apply(self, weights: Tensor, noise: Tensor, sigma: float, max_abs: Tensor,
              groups: Tensor | None = None) -> Tensor:
        if sigma > 1.0:
            raise UserInputError(f"stuck_at sigma is a fault fraction and must be in [0, 1]; "
                                 f"got sigma={sigma!r}. Pass a fraction such as 0.05.")
        on_value = torch.where(weights < 0, -max_abs, max_abs).to(weights.dtype)
        out = torch.where(noise < sigma, torch.zeros_like(weights), weights)
        return torch.where(noise < sigma * self.p_on, on_value, out)

    def moments(self, weights: Tensor, sigma: float, max_abs: Tensor) -> tuple[Tensor, Tensor]:
        on = torch.where(weights < 0, -max_abs, max_abs).to(weights.dtype)
        p_on = sigma * self.p_on
        mean = (1 - sigma) * weights + p_on * on
        second = (1 - sigma) * weights**2 + p_on * on**2
        return mean, second - mean**2
