"""Baselines tuned with the search's compute: random search of one knob on the validation
objective, ``n`` trainings per seed (``bayesft-tune compare``'s ``*_tuned`` methods).

Every candidate trains with the same budget and seed; each is scored on the validation
split with the seed's ``select`` draws (never the test draws); the best is returned with
its knob value. The candidate values come from the seed's ``tune`` stream.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
from torch import nn

from bayesft_tune.dropout import add_dropout
from bayesft_tune.errors import UserInputError
from bayesft_tune.methods import MethodConfig, get_method
from bayesft_tune.objective import Objective
from bayesft_tune.seeds import stream_seed
from bayesft_tune.tasks.trial import drift_metrics

__all__ = ["TUNED", "Knob", "tune_method"]


@dataclass(frozen=True)
class Knob:
    """A baseline's main knob and the range its random search draws from.

    Attributes:
        method: the registered method it tunes (``uniform_dropout``: ERM with one dropout rate).
        field: the ``MethodConfig`` field (``rate`` for ``uniform_dropout``).
        low, high: the range; ``scale``: ``linear``, ``log`` or ``int`` (integers, inclusive).
        device: the method draws the training noise from the comparison's drift model
            (hardware-aware training); else lognormal.
    """

    method: str
    field: str
    low: float
    high: float
    scale: Literal["linear", "log", "int"] = "linear"
    device: bool = False

    def draw(self, rng: np.random.Generator, n: int) -> list[float]:
        """``n`` values, uniform on the knob's scale."""
        if self.scale == "log":
            return [float(v) for v in np.exp(rng.uniform(np.log(self.low), np.log(self.high), n))]
        if self.scale == "int":
            return [float(v) for v in rng.integers(int(self.low), int(self.high) + 1, n)]
        return [float(v) for v in rng.uniform(self.low, self.high, n)]


TUNED: dict[str, Knob] = {
    "uniform_dropout_tuned": Knob("uniform_dropout", "rate", 0.0, 0.8),
    "noise_injection_tuned": Knob("noise_injection", "noise_sigma", 0.05, 1.2),
    "hwa_tuned": Knob("noise_injection", "noise_sigma", 0.1, 10.0, "log", device=True),  # log: [0.1, 3] had PCM picks at 2.3-2.95
    "awp_tuned": Knob("awp", "awp_gamma", 1e-3, 0.1, "log"),
    "ftna_tuned": Knob("ftna", "ftna_distance", 1, 6, "int"),  # 10 codewords of 15 bits: distance <= 6 exists
    "reram_v_tuned": Knob("reram_v", "reram_sigma", 0.2, 1.2),
}
"""``compare`` method name -> the knob its random search tunes."""


def _fit(knob: Knob, value: float, task, splits, cfg: MethodConfig, seed: int, device) -> nn.Module:
    if knob.method == "uniform_dropout":
        build = lambda: add_dropout(task.build(), [value] * len(task.slots()))  # noqa: E731 (called at once)
        return get_method("erm").fit(build, splits.train, splits.val, cfg, seed, device)
    kind = int if knob.scale == "int" else float
    return get_method(knob.method).fit(task.build, splits.train, splits.val,
                                       dataclasses.replace(cfg, **{knob.field: kind(value)}), seed, device)


def tune_method(name: str, task, splits, cfg: MethodConfig, seed: int, objective: Objective, drift: str,
                device, trainings: int) -> tuple[nn.Module, float, float]:
    """Random search of ``TUNED[name]``'s knob: ``trainings`` candidates, the best on validation.

    Returns:
        ``(model, knob value, validation objective)`` of the chosen candidate.
    """
    knob = TUNED[name]
    if knob.device:
        cfg = dataclasses.replace(cfg, noise_drift=drift, noise_level=objective.target_sigma)
    best = None
    for value in knob.draw(np.random.default_rng(stream_seed(seed, "tune")), trainings):
        try:
            model = _fit(knob, value, task, splits, cfg, seed, device)
        except UserInputError:  # a knob value the method cannot use (e.g. no such codebook): a lost candidate
            continue
        score = drift_metrics(model, splits.val, objective, drift, stream_seed(seed, "select"))[objective.name]
        if best is None or objective.better(score, best[2]):
            best = (model, value, score)
    if best is None:
        raise UserInputError(f"{name}: none of the {trainings} candidate values of {knob.field} could be trained; "
                             f"narrow its range in trainables/tuning.py.")
    return best
