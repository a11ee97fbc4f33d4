"""Registry of training methods (ERM and the paper's baselines), selectable by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from bayesft_tune.errors import UserInputError
from bayesft_tune.registry import Registry

__all__ = ["METHODS", "Method", "MethodConfig", "get_method", "method_names", "seeded_build"]


@dataclass(frozen=True)
class MethodConfig:
    """Budget and hyper-parameters shared by every method.

    Attributes:
        epochs: training epochs (every method gets the same number of passes of its
            main training; ReRAM-V and FTNA add their short extra phases on top).
        batch_size: examples per step.
        lr: Adam learning rate (> 0).
        noise_sigma: σ_train of ``noise_injection`` (drift in every forward).
        noise_drift: the drift model (spec) ``noise_injection`` draws from: ``lognormal`` (the
            paper's), or a device model (hardware-aware training: its noise at ``noise_level``
            seconds, scaled by ``noise_sigma``).
        noise_level: see ``noise_drift``.
        awp_gamma: AWP's relative perturbation size γ (‖v_l‖ = γ‖w_l‖).
        ftna_bits: FTNA code length l (sigmoid outputs).
        ftna_distance: FTNA minimum Hamming distance h of the codebook.
        reram_sigma: σ of ReRAM-V's sampled variation maps.
        reram_fraction: fraction of the weights frozen per ReRAM-V round.
        reram_scale: factor applied to the frozen weights (< 1: scaled down).
        reram_tol: ReRAM-V stops when validation accuracy moves less than this.
        reram_max_rounds: ReRAM-V's maximum number of rounds.
        options: method-specific extras (e.g. ``search`` settings for ``bayesft``).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    noise_sigma: float = 0.6
    noise_drift: str = "lognormal"
    noise_level: float = 0.0
    awp_gamma: float = 0.01
    ftna_bits: int = 15
    ftna_distance: int = 5
    reram_sigma: float = 0.6
    reram_fraction: float = 0.02
    reram_scale: float = 0.5
    reram_tol: float = 0.002
    reram_max_rounds: int = 5
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rules = [
            (int(self.epochs) == self.epochs and self.epochs >= 1, "epochs", "an integer >= 1"),
            (self.lr > 0, "lr", "> 0"),
            (self.noise_sigma >= 0, "noise_sigma", ">= 0"),
            (0 < self.awp_gamma < 1, "awp_gamma", "in (0, 1)"),
            (1 <= self.ftna_distance <= self.ftna_bits, "ftna_distance", "in [1, ftna_bits]"),
            (0 < self.reram_fraction < 1, "reram_fraction", "in (0, 1)"),
            (0 <= self.reram_scale <= 1, "reram_scale", "in [0, 1]"),
            (self.reram_max_rounds >= 1, "reram_max_rounds", ">= 1"),
        ]
        for ok, name, rule in rules:
            if not ok:
                raise UserInputError(f"method setting {name} must be {rule}; got "
                                     f"{name}={getattr(self, name)!r}. Fix the value.")


Fit = Callable[..., nn.Module]
"""``fit(build, train, val, cfg, seed, device) -> model`` returning ``N x C`` class scores."""


@dataclass(frozen=True)
class Method:
    """A training method.

    Attributes:
        name: registry name.
        fit: ``fit(build, train, val, cfg, seed, device)``; ``build()`` makes a fresh
            network (``N x C`` logits), ``train``/``val`` are ``TensorDataset`` s. Returns
            a trained network whose forward gives per-class scores (argmax = prediction),
            so :func:`bayesft_tune.evaluation.evaluate_under_drift` scores it.
        description: one line for help texts.
    """

    name: str
    fit: Fit
    description: str


METHODS: Registry[Method] = Registry("method", "Pass one of these names (comma-separated for --methods).")
"""Method name -> :class:`Method`; filled by :mod:`bayesft_tune.methods`' ``__init__``."""


def method_names() -> list[str]:
    """Registered method names, in registration order."""
    return METHODS.names()


def get_method(name: str) -> Method:
    """Look up a method by name (an unknown name is a UserInputError listing the valid ones)."""
    return METHODS.get(name)


def seeded_build(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """A fresh network initialised from ``torch.manual_seed(seed)``."""
    torch.manual_seed(int(seed))
    return build()
