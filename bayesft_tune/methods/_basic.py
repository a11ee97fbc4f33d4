"""ERM and noise-injection training (the Trainer's straight-through drifted forward)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.utils.data import TensorDataset

from bayesft_tune.methods._registry import MethodConfig, seeded_build
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["fit_erm", "fit_noise_injection"]


def _fit(build: Callable[[], nn.Module], train: TensorDataset, cfg: MethodConfig, seed: int,
         device: str | torch.device, sigma: float) -> nn.Module:
    model = seeded_build(build, seed)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, noise_injection=sigma,
                       noise_drift=cfg.noise_drift, noise_level=cfg.noise_level)
    trainer = Trainer(model, train, tcfg, seed=seed, device=device)
    for _ in range(tcfg.epochs):
        trainer.epoch()
    return model.eval()


def fit_erm(build: Callable[[], nn.Module], train: TensorDataset, val: TensorDataset,
            cfg: MethodConfig, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """Plain empirical risk minimisation (cross-entropy, Adam, no dropout)."""
    return _fit(build, train, cfg, seed, device, 0.0)


def fit_noise_injection(build: Callable[[], nn.Module], train: TensorDataset, val: TensorDataset,
                        cfg: MethodConfig, seed: int = 0,
                        device: str | torch.device = "cpu") -> nn.Module:
    """Noise-injection training at σ_train = ``cfg.noise_sigma``.

    Every step draws drift (``cfg.noise_drift``: lognormal, or a device model's noise at
    ``cfg.noise_level`` scaled by σ_train: hardware-aware training), runs forward and backward
    at the drifted weights, restores the clean weights and steps from them
    (:class:`bayesft_tune.training.Trainer`).
    """
    return _fit(build, train, cfg, seed, device, cfg.noise_sigma)
