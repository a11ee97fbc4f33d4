"""A task: a network (a registered name or your own builder) on data (a registered name or
your own loader) with its default training budget.

    task = Task(name="digits_cnn", model=build_cnn, data=load_digit_splits, epochs=20)

``model`` is ``(**arch) -> nn.Module``; ``data`` is ``(seed) -> Splits`` (see
:meth:`bayesft_tune.data.Splits.from_arrays`). Dropout slots come from
:func:`~bayesft_tune.dropout.add_dropout`, as for every built-in model. Where a task lives
(built in, a module, a file) and how it reaches Ray's workers: :mod:`~bayesft_tune.tasks.source`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

import torch
from torch import nn

from bayesft_tune.data import Splits, load_data
from bayesft_tune.dropout import dropout_slots, slot_parameter_name
from bayesft_tune.errors import UserInputError
from bayesft_tune.models import build_model
from bayesft_tune.registry import Registry

__all__ = ["SMOKE_ENV", "TASKS", "DataSource", "ModelSource", "Task", "cached_data"]

SMOKE_ENV = "BAYESFT_SMOKE"
"""Set to ``1`` (in the driver and, e.g. via ``runtime_env``, the Ray workers) to run every
task in its tiny CPU smoke configuration (:attr:`Task.smoke`)."""

ModelSource = Union[str, Callable[..., nn.Module]]
"""A registered model name, or ``(**arch) -> nn.Module``."""
DataSource = Union[str, Callable[[int], Splits]]
"""A registered dataset name, or ``(seed) -> Splits``."""

_SLOT_CACHE: dict[tuple, list[str]] = {}


@functools.lru_cache(maxsize=4)
def cached_data(data: DataSource, data_dir: str | None, download: bool, seed: int) -> Splits:
    """A task's splits, loaded once per process (trials reuse actors): a registered dataset
    by name, or the task's own ``data(seed)``, whose result is checked to be :class:`Splits`."""
    if isinstance(data, str):
        return load_data(data, root=data_dir, download=download, seed=seed)
    splits = data(seed)
    if not isinstance(splits, Splits):
        raise UserInputError(f"a task's data function must return bayesft_tune.Splits; {_name(data)}({seed}) "
                             f"returned {type(splits).__name__}. Build them with Splits.from_arrays(x, y, seed=seed, "
                             "val_fraction=..., test_fraction=...).")
    return splits


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


@dataclass(frozen=True)
class Task:
    """A trainable task.

    Attributes:
        name: the task's name (``--task`` for built-in tasks; tables and messages).
        model: a registered model name, or ``(**arch) -> nn.Module`` building a fresh network
            (seeded by the caller's torch RNG); ``model_kwargs`` are passed to it.
        data: a registered dataset name, or ``(seed) -> Splits`` (``seed``: the search's
            ``--data-seed``, for the validation split).
        epochs, batch_size, lr: default training budget.
        eval_batch_size: batch size of the validation passes.
        smoke: field overrides (e.g. ``model_kwargs``) of the tiny CPU configuration used
            when ``BAYESFT_SMOKE=1``; they must keep the slot names.
        widths_kwarg: the model keyword holding its hidden widths / channel counts (the
            ``width`` knob), e.g. ``"hidden"`` for ``mlp``; None: no width knob.
        base_widths: the widths of the task's network: its parameter budget (every proposal
            of the width knob has at most as many parameters).
        arch_knobs: architecture knobs the model accepts (``"width"``, ``"activation"``,
            ``"norm"``); ``"width"`` is added when ``widths_kwarg`` is given.
        kind: ``"classification"`` or ``"detection"`` (scores are mAP; no ERM reference): how
            the one trial loop trains and scores it (:mod:`~bayesft_tune.tasks.kinds`).
        description: one line for listings (model, dataset, input).
    """

    name: str
    model: ModelSource
    data: DataSource
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_batch_size: int = 1024
    smoke: dict[str, Any] = field(default_factory=dict)
    widths_kwarg: str | None = None
    base_widths: tuple[int, ...] = ()
    arch_knobs: tuple[str, ...] = ()
    kind: Literal["classification", "detection"] = "classification"
    description: str = ""

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise UserInputError(f"Task {self.name!r}: {problem}")
        object.__setattr__(self, "base_widths", tuple(int(w) for w in self.base_widths))
        if self.widths_kwarg and "width" not in self.arch_knobs:
            object.__setattr__(self, "arch_knobs", ("width", *self.arch_knobs))

    def smoke_variant(self) -> "Task":
        """This task with its :attr:`smoke` overrides applied."""
        return dataclasses.replace(self, **self.smoke)

    def build(self, **arch: Any) -> nn.Module:
        """A fresh network (seeded by the caller's torch RNG); ``arch`` overrides model kwargs
        (``widths`` -> :attr:`widths_kwarg`, ``activation``, ``norm``)."""
        kwargs = dict(self.model_kwargs)
        for key, value in arch.items():
            if value is not None:
                kwargs[self.widths_kwarg if key == "widths" else key] = value
        if isinstance(self.model, str):
            return build_model(self.model, **kwargs)
        net = self.model(**kwargs)
        if not isinstance(net, nn.Module):
            raise UserInputError(f"task {self.name!r}: its model {_name(self.model)}(**{kwargs}) returned "
                                 f"{type(net).__name__}, not a torch.nn.Module. Return the network it builds.")
        return net

    def splits(self, data_dir: str | None = None, download: bool = False, seed: int = 0) -> Splits:
        """The task's data (loaded once per process and arguments, see :func:`cached_data`)."""
        return cached_data(self.data, data_dir, download, seed)

    def parameter_count(self, **arch: Any) -> int:
        """Parameters of the network with ``arch`` (built on the meta device: no memory)."""
        with torch.device("meta"):
            return sum(p.numel() for p in self.build(**arch).parameters())

    def slots(self) -> list[str]:
        """Dropout slot names of this task's network (built once per model configuration)."""
        key = (self.model, repr(sorted(self.model_kwargs.items())))
        if key not in _SLOT_CACHE:
            with torch.device("meta"):
                _SLOT_CACHE[key] = dropout_slots(self.build())
        return list(_SLOT_CACHE[key])

    def parameter_names(self) -> list[str]:
        """Dropout parameter names, one per slot (``dropout_<slot>``)."""
        return [slot_parameter_name(s) for s in self.slots()]


def _problems(task: Task) -> list[str]:
    """What breaks a rule in ``task``'s fields, each with its fix (empty: none)."""
    def positive_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    checks = [
        (isinstance(task.name, str) and task.name.strip() != "" and os.sep not in task.name,
         f"name must be a non-empty string without {os.sep!r}; got {task.name!r}"),
        (isinstance(task.model, str) or callable(task.model),
         f"model must be a registered model name or a callable (**arch) -> nn.Module; got {task.model!r}"),
        (isinstance(task.data, str) or callable(task.data),
         f"data must be a registered dataset name or a callable (seed) -> Splits; got {task.data!r}"),
        (positive_int(task.epochs), f"epochs must be an integer >= 1; got {task.epochs!r}"),
        (positive_int(task.batch_size), f"batch_size must be an integer >= 1; got {task.batch_size!r}"),
        (positive_int(task.eval_batch_size), f"eval_batch_size must be an integer >= 1; got {task.eval_batch_size!r}"),
        (isinstance(task.lr, (int, float)) and not isinstance(task.lr, bool) and task.lr > 0,
         f"lr must be a number > 0; got {task.lr!r}"),
        (isinstance(task.model_kwargs, dict), f"model_kwargs must be a dict; got {task.model_kwargs!r}"),
        (task.widths_kwarg is None or isinstance(task.widths_kwarg, str) and len(task.base_widths) > 0,
         f"the width knob needs widths_kwarg (a keyword of the model) and base_widths (its default widths); got "
         f"widths_kwarg={task.widths_kwarg!r}, base_widths={task.base_widths!r}"),
        (all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in task.base_widths),
         f"base_widths must be integers >= 1; got {task.base_widths!r}"),
        (set(task.arch_knobs) <= {"width", "activation", "norm"},
         f"arch_knobs must come from ('width', 'activation', 'norm'); got {task.arch_knobs!r}"),
        (task.kind in ("classification", "detection"),
         f"kind must be 'classification' or 'detection'; got {task.kind!r}"),
    ]
    return [f"{message}. Fix that argument of Task(...)." for ok, message in checks if not ok]


TASKS: Registry[Task] = Registry("task", "Pass one with --task, or your own as --task file.py:NAME.")
"""Built-in task name -> :class:`Task`; filled from the task table by :mod:`bayesft_tune.tasks`' ``__init__``."""
