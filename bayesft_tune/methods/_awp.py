"""Adversarial weight perturbation (AWP; Wu, Xia & Wang, NeurIPS 2020).

Each step: (1) gradient ``g_l`` of the batch loss at the clean weights ``w``;
(2) perturb every weight tensor (``dim > 1``: Linear/Conv kernels; biases and norm
parameters are left alone, as in AWP) by ``v_l = γ ‖w_l‖ g_l / ‖g_l‖`` - one ascent
step of layer-wise relative size γ; (3) gradient at ``w + v``; (4) RESTORE ``w``
exactly (the public BayesFT code left the perturbation in the weights); (5) optimiser
step from ``w`` with the gradient of step 3.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from bayesft_tune.methods._registry import MethodConfig, seeded_build
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["AWPTrainer", "awp_perturbation", "fit_awp"]


def awp_perturbation(model: nn.Module, gamma: float) -> dict[nn.Parameter, Tensor]:
    """``v_l = γ ‖w_l‖ g_l / ‖g_l‖`` for every weight tensor with a gradient.

    Args:
        model: network whose ``.grad`` hold the clean-weight gradient.
        gamma: relative perturbation size (``‖v_l‖ = γ ‖w_l‖``).

    Returns:
        Parameter -> perturbation (same shape); tensors with zero gradient are skipped.
    """
    out: dict[nn.Parameter, Tensor] = {}
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() <= 1 or p.grad is None:
                continue
            g_norm = p.grad.norm()
            if float(g_norm) > 0:
                out[p] = gamma * p.norm() * p.grad / g_norm
    return out


class AWPTrainer(Trainer):
    """:class:`Trainer` whose step takes the gradient at the adversarially perturbed weights."""

    def __init__(self, *args, gamma: float = 0.01, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gamma = float(gamma)

    def step(self, x: Tensor, y: Tensor) -> float:
        """One AWP step; returns the mean loss at the perturbed weights."""
        self.opt.zero_grad(set_to_none=True)
        F.cross_entropy(self.model(x), y).backward()
        perturb = awp_perturbation(self.model, self.gamma)
        saved = {p: p.detach().clone() for p in perturb}
        self.opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for p, v in perturb.items():
                p.add_(v)
        try:
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
        finally:
            with torch.no_grad():
                for p, clean in saved.items():
                    p.copy_(clean)  # exact restore, not p -= v (no rounding drift)
        self.opt.step()
        return float(loss.detach())


def fit_awp(build: Callable[[], nn.Module], train: TensorDataset, val: TensorDataset,
            cfg: MethodConfig, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """Train with AWP of relative size ``cfg.awp_gamma`` for ``cfg.epochs`` epochs."""
    model = seeded_build(build, seed)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr)
    trainer = AWPTrainer(model, train, tcfg, seed=seed, device=device, gamma=cfg.awp_gamma)
    for _ in range(tcfg.epochs):
        trainer.epoch()
    return model.eval()
