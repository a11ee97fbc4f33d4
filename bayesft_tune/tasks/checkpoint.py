"""A trial's checkpoint file: trainer state plus the knobs that rebuild its network."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from bayesft_tune.dropout import add_dropout
from bayesft_tune.errors import UserInputError
from bayesft_tune.tasks.space import Knobs
from bayesft_tune.tasks.source import get_task
from bayesft_tune.tasks.task import Task

__all__ = ["CHECKPOINT_FILE", "build_network", "load_state", "model_from_state", "save_state"]

CHECKPOINT_FILE = "trial.pt"
"""File name of the state inside a Tune checkpoint directory."""


def build_network(task: Task, knobs: Knobs) -> nn.Module:
    """The task's network with the knobs' architecture and dropout (seeded by the caller's RNG)."""
    return add_dropout(task.build(**knobs.arch()), list(knobs.dropout))


def save_state(directory: str, trainer_state: dict, task: str, knobs: Knobs) -> str:
    """Write ``trial.pt`` into ``directory``; returns its path."""
    path = os.path.join(directory, CHECKPOINT_FILE)
    torch.save({"trainer": trainer_state, "task": task, "knobs": knobs.to_dict(),
                "rates": list(knobs.dropout)}, path)
    return path


def load_state(path: str, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a ``trial.pt`` (a file, or a checkpoint directory holding one).

    Raises:
        UserInputError: missing, truncated or not a checkpoint of this package.
    """
    if os.path.isdir(path):
        path = os.path.join(path, CHECKPOINT_FILE)
    try:
        state = torch.load(path, weights_only=True, map_location=device)
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        raise UserInputError(f"could not read checkpoint {path!r}: {err}. Pass a {CHECKPOINT_FILE} written "
                             "by a search trial (or its checkpoint directory).") from err
    if not isinstance(state, dict) or "trainer" not in state or "task" not in state:
        raise UserInputError(f"{path!r} is not a bayesft-tune trial checkpoint (keys "
                             f"{sorted(state) if isinstance(state, dict) else type(state).__name__}).")
    return state


def model_from_state(state: dict[str, Any]) -> nn.Module:
    """The trained network a checkpoint state holds, in eval mode, on CPU."""
    task = get_task(state["task"])
    knobs = Knobs.from_dict(state["knobs"]) if "knobs" in state else Knobs(dropout=tuple(state["rates"]))
    model = build_network(task, knobs)
    model.load_state_dict({k: v.cpu() for k, v in state["trainer"]["model"].items()})
    return model.eval()
