"""ReRAM-V: variation-aware training (Chen et al., DATE 2017), as the BayesFT paper's baseline.

After ERM pre-training, each round (1) samples a variation map: lognormal drift
factors ``exp(λ)``, ``λ ~ N(0, σ²)`` per weight; (2) ranks the not yet frozen
weights by the first-order loss change the map would cause,
``|∂L/∂w · Δw|`` with ``Δw = w (exp(λ) - 1)``; (3) scales the ``fraction`` most
harmful ones down by ``scale`` and freezes them (their gradients are masked to 0);
(4) retrains the rest for one epoch with a NON-ZERO learning rate (the public
BayesFT code used lr 0, which retrains nothing); (5) stops when the validation
accuracy under the round's map changes by less than ``tol``, or after ``max_rounds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from bayesft_tune.methods._basic import fit_erm
from bayesft_tune.methods._registry import MethodConfig
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["ReramVResult", "fit_reram_v", "reram_v_rounds"]


@dataclass
class ReramVResult:
    """What the rounds did (for tests and logs).

    Attributes:
        masks: parameter name -> bool mask of frozen weights.
        frozen_values: parameter name -> the weights' values when frozen (0 elsewhere).
        lrs: learning rate of each retraining round (all > 0).
        accuracies: validation accuracy under each round's variation map (fraction).
    """

    masks: dict[str, Tensor] = field(default_factory=dict)
    frozen_values: dict[str, Tensor] = field(default_factory=dict)
    lrs: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)


def _harm(model: nn.Module, data: TensorDataset, factors: dict[str, Tensor], batch: int = 1024) -> dict[str, Tensor]:
    """``|∂L/∂w · w (f - 1)|`` per weight, the gradient from the first ``batch`` examples."""
    x, y = (t[:batch] for t in data.tensors)
    model.zero_grad(set_to_none=True)
    dev = next(model.parameters()).device
    F.cross_entropy(model(x.to(dev)), y.to(dev)).backward()
    out = {n: (p.grad * p.detach() * (factors[n] - 1)).abs() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return out


def _freeze_top(model: nn.Module, harm: dict[str, Tensor], result: ReramVResult, fraction: float,
                scale: float) -> None:
    """Scale down and freeze the ``fraction`` most harmful unfrozen weights (all tensors pooled)."""
    scores = torch.cat([harm[n].masked_fill(result.masks[n], -1.0).flatten() for n in harm])
    k = max(1, int(fraction * scores.numel()))
    threshold = scores.topk(k).values.min().clamp_min(0.0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            chosen = (harm[n] >= threshold) & ~result.masks[n]
            p[chosen] *= scale
            result.masks[n] |= chosen
            result.frozen_values[n] = torch.where(result.masks[n], p.detach(), result.frozen_values[n])


def _map_accuracy(model: nn.Module, data: TensorDataset, factors: dict[str, Tensor]) -> float:
    """Accuracy of ``model`` with every weight multiplied by its factor (model restored)."""
    x, y = data.tensors
    params = {n: p.detach() * factors[n] for n, p in model.named_parameters()}
    with torch.no_grad():
        dev = next(model.parameters()).device
        logits = torch.func.functional_call(model.eval(), params, (x.to(dev),))
    return float((logits.argmax(1).cpu() == y).float().mean())


def _retrain(model: nn.Module, train: TensorDataset, result: ReramVResult, cfg: MethodConfig,
             seed: int, device: str | torch.device) -> None:
    hooks = [p.register_hook(lambda g, m=result.masks[n]: g.masked_fill(m, 0.0))
             for n, p in model.named_parameters()]
    try:
        tcfg = TrainConfig(epochs=1, batch_size=cfg.batch_size, lr=cfg.lr)  # lr > 0 enforced
        Trainer(model, train, tcfg, seed=seed, device=device).epoch()
        result.lrs.append(tcfg.lr)
    finally:
        for h in hooks:
            h.remove()


def reram_v_rounds(model: nn.Module, train: TensorDataset, val: TensorDataset, cfg: MethodConfig,
                   seed: int = 0, device: str | torch.device = "cpu") -> ReramVResult:
    """Run ReRAM-V's diagnose / freeze / retrain rounds on a trained ``model`` in place."""
    gen = torch.Generator().manual_seed(int(seed) + 2)
    result = ReramVResult(masks={n: torch.zeros_like(p, dtype=torch.bool) for n, p in model.named_parameters()},
                          frozen_values={n: torch.zeros_like(p) for n, p in model.named_parameters()})
    for r in range(cfg.reram_max_rounds):
        factors = {n: torch.exp(cfg.reram_sigma * torch.randn(p.shape, generator=gen)).to(p.device)
                   for n, p in model.named_parameters()}
        _freeze_top(model.train(), _harm(model, train, factors), result, cfg.reram_fraction, cfg.reram_scale)
        _retrain(model, train, result, cfg, seed + 100 + r, device)
        result.accuracies.append(_map_accuracy(model, val, factors))
        if len(result.accuracies) > 1 and abs(result.accuracies[-1] - result.accuracies[-2]) < cfg.reram_tol:
            break
    return result


def fit_reram_v(build: Callable[[], nn.Module], train: TensorDataset, val: TensorDataset,
                cfg: MethodConfig, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """ERM for ``cfg.epochs``, then the ReRAM-V rounds (one extra epoch each)."""
    model = fit_erm(build, train, val, cfg, seed, device)
    reram_v_rounds(model, train, val, cfg, seed, device)
    return model.eval()
