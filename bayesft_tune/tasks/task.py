"""A task: a registered model on a registered dataset with its default training budget."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bayesft_tune.dropout import dropout_slots, slot_parameter_name
from bayesft_tune.models import build_model
from bayesft_tune.registry import Registry

__all__ = ["SMOKE_ENV", "TASKS", "Task", "get_task"]

SMOKE_ENV = "BAYESFT_SMOKE"
"""Set to ``1`` (in the driver and, e.g. via ``runtime_env``, the Ray workers) to run every
task in its tiny CPU smoke configuration (:attr:`Task.smoke`)."""

_SLOT_CACHE: dict[str, list[str]] = {}


@dataclass(frozen=True)
class Task:
    """A trainable task.

    Attributes:
        name: task name used by ``--task``.
        model: model registry name; ``model_kwargs`` are passed to its builder.
        dataset: dataset registry name.
        epochs, batch_size, lr: default training budget.
        eval_batch_size: batch size of the validation passes.
        smoke: field overrides (e.g. ``model_kwargs``) of the tiny CPU configuration used
            when ``BAYESFT_SMOKE=1``; they must keep the slot names.
        widths_kwarg: the model keyword holding its hidden widths / channel counts (the
            ``width`` knob), e.g. ``"hidden"`` for ``mlp``; None: no width knob.
        base_widths: the widths of the task's network (its parameter budget).
        arch_knobs: architecture knobs the model accepts (``"width"``, ``"activation"``, ``"norm"``).
        kind: ``"classification"`` or ``"detection"`` (scores are mAP; no ERM reference).
        trainable: ``"module:function"`` of a task-specific Ray Tune trainable (None: the
            classification trainable).
        robustness: ``"module:function"`` of a task-specific final robustness job.
        description: one line for listings (model, dataset, input).
    """

    name: str
    model: str
    dataset: str
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_batch_size: int = 1024
    smoke: dict[str, Any] = field(default_factory=dict)
    widths_kwarg: str | None = None
    base_widths: tuple[int, ...] = ()
    arch_knobs: tuple[str, ...] = ()
    kind: str = "classification"
    trainable: str | None = None
    robustness: str | None = None
    description: str = ""

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
        return build_model(self.model, **kwargs)

    def parameter_count(self, **arch: Any) -> int:
        """Parameters of the network with ``arch`` (built on the meta device: no memory)."""
        with torch.device("meta"):
            return sum(p.numel() for p in self.build(**arch).parameters())

    def slots(self) -> list[str]:
        """Dropout slot names of this task's network (built once per model configuration)."""
        key = f"{self.model}:{sorted(self.model_kwargs.items())!r}"
        if key not in _SLOT_CACHE:
            with torch.device("meta"):
                _SLOT_CACHE[key] = dropout_slots(self.build())
        return list(_SLOT_CACHE[key])

    def parameter_names(self) -> list[str]:
        """Dropout parameter names, one per slot (``dropout_<slot>``)."""
        return [slot_parameter_name(s) for s in self.slots()]


TASKS: Registry[Task] = Registry("task", "Pass one with --task.")
"""Task name -> :class:`Task`; filled from the task table by :mod:`bayesft_tune.tasks`' ``__init__``."""


def get_task(name: str) -> Task:
    """Look up a registered task (its smoke variant if ``BAYESFT_SMOKE=1``).

    Raises:
        UserInputError: unknown name; the message lists the registered names.
    """
    task = TASKS.get(name)
    return task.smoke_variant() if os.environ.get(SMOKE_ENV) == "1" else task
