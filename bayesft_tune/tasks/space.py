"""The declared search space: which knobs a search owns, as typed Ax parameters.

Knobs (``--space``, comma-separated):

* ``dropout``: one rate per dropout slot (the paper's per-layer vector α);
* ``noise``: σ_train of drifted-loss training (noise injection; 0 = clean training);
* ``width``: the shape of the hidden widths under the task network's parameter budget;
* ``activation``, ``norm``: choice parameters of the network's nonlinearity and
  normalisation;
* ``lr``, ``weight_decay``: Adam's step size and L2 penalty (log scale).

**Width under a budget.** ``width`` adds ``k - 1`` log-scale ratios ``r_i = w_i / w_1``
(relative to the task's base widths). The widths are then scaled by the largest common
factor whose network has at most as many parameters as the task's own network, so every
proposal satisfies the budget by construction (a constraint, not a penalty), and Ax
searches only the shape.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from bayesft_tune.errors import UserInputError
from bayesft_tune.models import ACTIVATIONS, NORMS
from bayesft_tune.tasks.task import Task

__all__ = ["KNOBS", "ChoiceParam", "Knobs", "Param", "RangeParam", "Space", "budget_widths"]

KNOBS: tuple[str, ...] = ("dropout", "noise", "width", "activation", "norm", "lr", "weight_decay")


@dataclass(frozen=True)
class RangeParam:
    """A float range parameter ``[low, high]`` (``log``: searched on a log scale)."""

    name: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class ChoiceParam:
    """An unordered categorical parameter."""

    name: str
    values: tuple[str, ...]


Param = RangeParam | ChoiceParam


@dataclass(frozen=True)
class Knobs:
    """Everything a trial's network and training are built from (a trials-table row holds it).

    Attributes:
        dropout: one rate per slot, in slot order.
        noise: σ_train of drifted-loss training (0: clean loss).
        widths: hidden widths / channels (None: the task's own).
        activation, norm: names (None: the model's default).
        lr: Adam step size (None: the task's default).
        weight_decay: L2 penalty.
    """

    dropout: tuple[float, ...]
    noise: float = 0.0
    widths: tuple[int, ...] | None = None
    activation: str | None = None
    norm: str | None = None
    lr: float | None = None
    weight_decay: float = 0.0

    def arch(self) -> dict[str, Any]:
        """Model keywords of :meth:`Task.build`."""
        return {"widths": self.widths, "activation": self.activation, "norm": self.norm}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (checkpoints, Tune configs)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Knobs":
        """Inverse of :meth:`to_dict`."""
        known = {f.name for f in fields(cls)}
        out = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known}
        if out.get("widths") is not None:
            out["widths"] = tuple(int(w) for w in out["widths"])
        return cls(**out)


def budget_widths(task: Task, ratios: tuple[float, ...], **arch: Any) -> tuple[int, ...]:
    """Widths of shape ``base * (1, *ratios)`` scaled to the largest network within budget.

    Args:
        task: a task with a width knob (:attr:`Task.base_widths`).
        ratios: ``k - 1`` ratios ``w_i / w_1`` relative to the base widths' own ratios.
        **arch: other model keywords (activation, norm) counted in the parameters.

    Returns:
        ``k`` integer widths >= 1 whose network has at most ``task.parameter_count()``
        parameters.
    """
    base = task.base_widths
    budget = task.parameter_count()
    shape = [base[0]] + [b * r for b, r in zip(base[1:], ratios)]
    widths = lambda s: tuple(max(1, int(s * w)) for w in shape)
    lo, hi = 1e-3, 1e3
    for _ in range(60):  # bisection on the common scale; parameters grow with it
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if task.parameter_count(widths=widths(mid), **arch) <= budget else (lo, mid)
    return widths(lo)


@dataclass(frozen=True)
class Space:
    """Which knobs a search owns and their ranges.

    Attributes:
        knobs: searched knob names (subset of :data:`KNOBS`); the others keep the task's
            defaults (no dropout unless searched, ``noise`` = :attr:`fixed_noise`).
        dropout_bounds, noise_bounds, width_ratio_bounds, lr_bounds, weight_decay_bounds:
            ``(low, high)`` of the range parameters (ratios, lr, weight decay: log scale).
        activations, norms: the choice parameters' values.
        fixed_noise: σ_train when ``noise`` is not searched (the paper mode's drifted
            training sets it to the objective's σ).
    """

    knobs: tuple[str, ...] = ("dropout",)
    dropout_bounds: tuple[float, float] = (0.0, 0.8)
    noise_bounds: tuple[float, float] = (0.0, 1.0)
    width_ratio_bounds: tuple[float, float] = (0.125, 8.0)
    activations: tuple[str, ...] = ("relu", "elu", "gelu", "tanh")
    norms: tuple[str, ...] = ("none", "layer")
    lr_bounds: tuple[float, float] = (1e-4, 1e-2)
    weight_decay_bounds: tuple[float, float] = (1e-6, 1e-2)
    fixed_noise: float = 0.0

    def __post_init__(self) -> None:
        unknown = [k for k in self.knobs if k not in KNOBS]
        if unknown or not self.knobs or len(set(self.knobs)) != len(self.knobs):
            raise UserInputError(f"space must name one or more distinct knobs of {list(KNOBS)}; got "
                                 f"{list(self.knobs)}. Fix --space (e.g. --space dropout,width,noise).")
        bad = [v for v in self.activations if v not in ACTIVATIONS] + [v for v in self.norms if v not in NORMS]
        if bad or not self.activations or not self.norms:
            raise UserInputError(f"activations must come from {sorted(ACTIVATIONS)} and norms from "
                                 f"{list(NORMS)}; got unknown {bad}. Fix the space's choices.")

    def check_task(self, task: Task) -> None:
        """Raise if the task's model lacks a searched architecture knob."""
        missing = [k for k in self.knobs if k in ("width", "activation", "norm") and k not in task.arch_knobs]
        if missing:
            raise UserInputError(f"task {task.name!r} ({task.model}) has no {missing} knob; its model supports "
                                 f"{list(task.arch_knobs) or 'no architecture knobs'}. Drop {missing} from "
                                 "--space for this task.")

    def parameters(self, task: Task) -> list[Param]:
        """The Ax parameters of this space for ``task``, in a fixed order."""
        self.check_task(task)
        out: list[Param] = []
        if "dropout" in self.knobs:
            out += [RangeParam(n, *self.dropout_bounds) for n in task.parameter_names()]
        if "noise" in self.knobs:
            out.append(RangeParam("noise_injection", *self.noise_bounds))
        if "width" in self.knobs:
            out += [RangeParam(f"width_ratio_{i}", *self.width_ratio_bounds, log=True)
                    for i in range(2, len(task.base_widths) + 1)]
        if "activation" in self.knobs:
            out.append(ChoiceParam("activation", tuple(self.activations)))
        if "norm" in self.knobs:
            out.append(ChoiceParam("norm", tuple(self.norms)))
        if "lr" in self.knobs:
            out.append(RangeParam("lr", *self.lr_bounds, log=True))
        if "weight_decay" in self.knobs:
            out.append(RangeParam("weight_decay", *self.weight_decay_bounds, log=True))
        return out

    def knobs_for(self, task: Task, params: Mapping[str, Any]) -> Knobs:
        """The :class:`Knobs` of one proposal (``params``: Ax parameter name -> value)."""
        self.check_task(task)
        missing = [p.name for p in self.parameters(task) if p.name not in params]
        if missing:
            raise UserInputError(f"a trial of space {list(self.knobs)} needs parameters {missing}; "
                                 f"got {sorted(params)}.")
        slots = task.parameter_names()
        dropout = tuple(float(params[n]) for n in slots) if "dropout" in self.knobs else (0.0,) * len(slots)
        arch = {"activation": params.get("activation"), "norm": params.get("norm")}
        widths = None
        if "width" in self.knobs:
            ratios = tuple(float(params[f"width_ratio_{i}"]) for i in range(2, len(task.base_widths) + 1))
            widths = budget_widths(task, ratios, **{k: v for k, v in arch.items() if v is not None})
        return Knobs(dropout=dropout, widths=widths,
                     noise=float(params.get("noise_injection", self.fixed_noise)),
                     lr=float(params["lr"]) if "lr" in params else None,
                     weight_decay=float(params.get("weight_decay", 0.0)), **arch)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in the trial spec)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Space":
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
