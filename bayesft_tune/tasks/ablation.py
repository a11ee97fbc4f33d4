"""The MLP variants of the paper's §III.A ablation (one factor changed at a time) and their
robustness rows; trained by ``trainables.ablation`` and run by ``bayesft-tune ablation``."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from torch import Tensor, nn

from bayesft_tune.errors import UserInputError
from bayesft_tune.drift_summary import summarize_drift
from bayesft_tune.evaluation import evaluate_under_drift

__all__ = ["AblationVariant", "NORMS", "build_ablation_mlp", "default_variants", "variant_rows"]

from bayesft_tune.models import ACTIVATIONS
NORMS = ("none", "batch", "layer", "instance", "group")


@dataclass(frozen=True)
class AblationVariant:
    """One MLP configuration of the ablation.

    Attributes:
        factor: the factor varied ("reference", "dropout", "normalization", "depth", "activation").
        variant: short label, e.g. ``"alpha_dropout_0.3"``.
        dropout: "none", "dropout" or "alpha" (alpha dropout, Klambauer et al.).
        rate: dropout rate after every hidden activation.
        norm: one of :data:`NORMS`, after every hidden Linear (before the activation).
        depth: Linear layers (2-6); hidden widths ``192 x (depth - 2)`` then 32.
        activation: key of :data:`ACTIVATIONS`.
    """

    factor: str = "reference"
    variant: str = "reference"
    dropout: str = "none"
    rate: float = 0.0
    norm: str = "none"
    depth: int = 3
    activation: str = "relu"

    def __post_init__(self) -> None:
        ok = (self.dropout in ("none", "dropout", "alpha") and 0 <= self.rate < 1 and self.norm in NORMS
              and 2 <= int(self.depth) <= 8 and self.activation in ACTIVATIONS)
        if not ok:
            raise UserInputError(f"invalid ablation variant {self!r}: dropout in none/dropout/alpha, "
                                 f"0 <= rate < 1, norm in {NORMS}, 2 <= depth <= 8, activation in "
                                 f"{sorted(ACTIVATIONS)}. Fix the variant.")


class _InstanceNorm(nn.Module):
    """Instance norm of an MLP feature vector: the ``F`` features of one example are one
    channel of length ``F`` (normalised per example, one scalar γ, β per layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm1d(1, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.unsqueeze(1)).squeeze(1)


def _norm(kind: str, width: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(width), "layer": lambda: nn.LayerNorm(width),
            "instance": _InstanceNorm, "group": lambda: nn.GroupNorm(4, width)}[kind]()


def build_ablation_mlp(v: AblationVariant, in_features: int = 784, num_classes: int = 10) -> nn.Sequential:
    """The variant's MLP; input ``N x 1 x 28 x 28`` or ``N x 784``, output ``N x 10`` logits."""
    hidden = [192] * (int(v.depth) - 2) + [32]
    widths = [in_features, *hidden, num_classes]
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        layers.append((f"fc{i}", nn.Linear(a, b)))
        if i == len(widths) - 1:
            break
        if v.norm != "none":
            layers.append((f"norm{i}", _norm(v.norm, b)))
        layers.append((f"act{i}", ACTIVATIONS[v.activation]()))
        if v.dropout != "none":
            layers.append((f"drop{i}", (nn.AlphaDropout if v.dropout == "alpha" else nn.Dropout)(v.rate)))
    return nn.Sequential(OrderedDict(layers))


def default_variants(rates: Sequence[float] = (0.1, 0.3, 0.5)) -> list[AblationVariant]:
    """Reference plus every single-factor change of Fig. 2."""
    out = [AblationVariant()]
    out += [AblationVariant("dropout", f"{'alpha_' if k == 'alpha' else ''}dropout_{r}", k, float(r))
            for k in ("dropout", "alpha") for r in rates]
    out += [AblationVariant("normalization", f"{n}_norm", norm=n) for n in NORMS[1:]]
    out += [AblationVariant("depth", f"depth_{d}", depth=d) for d in (2, 4, 5, 6)]
    out += [AblationVariant("activation", a, activation=a) for a in ("leaky_relu", "elu", "gelu")]
    return out


def variant_rows(model: nn.Module, data, v: AblationVariant, seed: int, config: dict,
                 trial_id: str | None) -> pd.DataFrame:
    """Test accuracy/loss under drift at ``config["sigmas"]`` (``samples`` draws, seeded by
    ``eval_seed + seed``: all variants of a seed share the drift draws) as ``ABLATION`` rows."""
    sigmas = sorted(float(s) for s in config["sigmas"])
    frame = evaluate_under_drift(model, data, sigmas, samples=int(config["samples"]),
                                 seed=int(config["eval_seed"]) + int(seed))
    s = summarize_drift(frame)
    area = float(np.trapezoid(s.accuracy_mean, s.sigma) / (s.sigma.max() - s.sigma.min())) \
        if len(s) > 1 else float(s.accuracy_mean.iloc[0])
    return pd.DataFrame({"factor": v.factor, "variant": v.variant, "seed": int(seed), "trial_id": trial_id,
                         "sigma": s.sigma, "samples": s.samples, "accuracy_mean": s.accuracy_mean,
                         "accuracy_sem": s.accuracy_sem, "loss_mean": s.loss_mean,
                         "loss_sem": s.loss_sem, "auc": area})
