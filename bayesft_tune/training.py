"""Seeded training, optionally with noise injection (drifted forward passes)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Iterator, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from bayesft_tune.drift import ParamFilter, get_drift, select_parameters
from bayesft_tune.errors import UserInputError

__all__ = ["TrainConfig", "Trainer", "drifted_weights", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        epochs: passes over the training set.
        batch_size: examples per step.
        lr: learning rate.
        optimizer: ``"adam"`` or ``"sgd"`` (with ``momentum``).
        momentum: SGD momentum.
        weight_decay: L2 penalty.
        noise_injection: σ of the drift applied to the weights in every training
            forward pass (0 = plain ERM). Gradients are taken at the drifted weights
            and applied to the clean ones (straight-through).
        noise_drift: drift model (spec) used for noise injection.
        noise_level: for a device model (time axis): the time since programming (s) whose
            device noise is injected, scaled by ``noise_injection`` (hardware-aware training:
            ``w + σ_train·(device(w, t) − w)``); ignored by the σ models.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    noise_injection: float = 0.0
    noise_drift: str = "lognormal"
    noise_level: float = 0.0

    def __post_init__(self) -> None:
        rules = [
            (self.epochs >= 0 and int(self.epochs) == self.epochs, "epochs", "an integer >= 0"),
            (self.batch_size >= 1 and int(self.batch_size) == self.batch_size, "batch_size", "an integer >= 1"),
            (self.lr > 0, "lr", "> 0"),
            (self.optimizer in ("adam", "sgd"), "optimizer", "'adam' or 'sgd'"),
            (0 <= self.momentum < 1, "momentum", "in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay", ">= 0"),
            (self.noise_injection >= 0, "noise_injection", ">= 0"),
        ]
        for ok, field, rule in rules:
            if not ok:
                raise UserInputError(f"training {field} must be {rule}; got "
                                     f"{field}={getattr(self, field)!r}. Fix the value.")
        get_drift(self.noise_drift)

    def to_dict(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def drifted_weights(model: nn.Module, drift: str, sigma: float, generator: torch.Generator,
                    params: ParamFilter = "all", level: float = 0.0) -> Iterator[None]:
    """Temporarily drift ``model``'s weights in place; the clean values come back on exit.

    Used for noise injection: forward and backward run at the drifted weights, the
    gradients land on the same parameters, and the optimiser steps from the clean
    values after this context restores them.
    """
    model_drift = get_drift(drift)
    device = model_drift.axis == "time"  # a device's noise at ``level``, scaled by sigma
    saved: list[tuple[nn.Parameter, Tensor]] = []
    with torch.no_grad():
        for _, p in select_parameters(model, params):
            clean = p.detach().clone()
            saved.append((p, clean))
            if device:
                p.add_(model_drift.drift_tensor(clean, level, generator).sub_(clean).mul_(sigma))
            else:
                p.copy_(model_drift.drift_tensor(clean, sigma, generator))
    try:
        yield
    finally:
        with torch.no_grad():
            for p, clean in saved:
                p.copy_(clean)


def _batches(data: Dataset, batch_size: int, gen: torch.Generator,
             device: torch.device) -> Iterator[tuple[Tensor, Tensor]]:
    if isinstance(data, TensorDataset):  # index the tensors directly: no per-item overhead
        x, y = data.tensors
        for idx in torch.randperm(len(y), generator=gen).split(batch_size):
            yield x[idx].to(device), y[idx].to(device)
        return
    for x, y in DataLoader(data, batch_size=batch_size, shuffle=True, generator=gen):
        yield x.to(device), y.to(device)


class Trainer:
    """Trains a classifier epoch by epoch (cross-entropy), reproducibly from ``seed``."""

    def __init__(self, model: nn.Module, data: Dataset, config: TrainConfig, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.data, self.config, self.epochs_done = data, config, 0
        self.gen = torch.Generator().manual_seed(int(seed))
        self.noise_gen = torch.Generator(device=self.device).manual_seed(int(seed) + 1)
        params = self.model.parameters()
        if config.optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        else:
            self.opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                       weight_decay=config.weight_decay)

    def step(self, x: Tensor, y: Tensor) -> float:
        """One optimiser step on a batch; returns its mean loss."""
        self.opt.zero_grad(set_to_none=True)
        sigma = self.config.noise_injection
        ctx = (drifted_weights(self.model, self.config.noise_drift, sigma, self.noise_gen,
                               level=self.config.noise_level)
               if sigma > 0 else contextlib.nullcontext())
        with ctx:
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
        self.opt.step()
        return float(loss.detach())

    def epoch(self) -> float:
        """Train one epoch; returns the mean training loss (nats)."""
        self.model.train()
        total, count = 0.0, 0
        for x, y in _batches(self.data, self.config.batch_size, self.gen, self.device):
            total += self.step(x, y) * len(y)
            count += len(y)
        self.epochs_done += 1
        if count == 0:
            raise UserInputError("the training data is empty; pass a Dataset with examples.")
        return total / count

    def state_dict(self) -> dict:
        """Model, optimiser and generator state, for checkpoints (``torch.save``-able)."""
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "gen": self.gen.get_state(), "noise_gen": self.noise_gen.get_state(),
                "epochs_done": self.epochs_done}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["gen"])
        self.noise_gen.set_state(state["noise_gen"])
        self.epochs_done = int(state["epochs_done"])


def train(model: nn.Module, data: Dataset, config: TrainConfig = TrainConfig(), seed: int = 0,
          device: str | torch.device = "cpu") -> list[float]:
    """Train ``model`` in place for ``config.epochs``; returns the per-epoch mean losses."""
    trainer = Trainer(model, data, config, seed, device)
    return [trainer.epoch() for _ in range(config.epochs)]
