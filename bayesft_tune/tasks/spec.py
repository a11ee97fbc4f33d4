"""``TrialSpec``: the typed description of one trial, built once by the runner.

It crosses the Ray Tune boundary as ``config["spec"]`` (a JSON-able dict); the searched
parameters sit next to it as top-level config keys, and :meth:`TrialSpec.knobs` turns
them into the trial's :class:`~bayesft_tune.tasks.space.Knobs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from bayesft_tune.data import Splits
from bayesft_tune.errors import UserInputError
from bayesft_tune.objective import Objective
from bayesft_tune.tasks.space import Knobs, Space
from bayesft_tune.tasks.source import get_task
from bayesft_tune.tasks.task import Task

__all__ = ["SPEC_KEY", "TrialSpec"]

SPEC_KEY = "spec"
"""Tune config key holding :meth:`TrialSpec.to_dict`."""


@dataclass(frozen=True)
class TrialSpec:
    """Everything a trial shares with the other trials of its search.

    Attributes:
        task: the task's reference (:mod:`~bayesft_tune.tasks.source`): a built-in name,
            ``module:NAME``, ``/abs/file.py:NAME``, ``data:{...}`` or ``object:NAME``.
        space: the searched knobs (unsearched ones keep their defaults).
        epochs, batch_size, lr: training budget (``lr`` unless the space searches it).
        objective: what the trial reports (name, σ, T).
        drift: drift model of the objective.
        train_seed: weight initialisation, batch order and noise injection.
        select_seed: drift draws of the validation objective (never used at test time).
        data_seed: the train/val/test split (explicit: not derived from the run seed).
        eval_epochs: epochs (1-based) that compute the MC objective and save a checkpoint;
            the last epoch always does.
        data_dir, download: dataset files for torchvision datasets.
    """

    task: str
    space: Space
    epochs: int
    batch_size: int
    lr: float
    objective: Objective
    drift: str = "lognormal"
    train_seed: int = 0
    select_seed: int = 1
    data_seed: int = 0
    eval_epochs: tuple[int, ...] = ()
    data_dir: str | None = None
    download: bool = False

    def __post_init__(self) -> None:
        if self.epochs not in self.eval_epochs:
            object.__setattr__(self, "eval_epochs", tuple(sorted({*self.eval_epochs, int(self.epochs)})))
        if any(not 1 <= e <= self.epochs for e in self.eval_epochs):
            raise UserInputError(f"eval_epochs must lie in [1, epochs={self.epochs}]; got {self.eval_epochs}.")

    def get_task(self) -> Task:
        """The registered task (its smoke variant under ``BAYESFT_SMOKE=1``)."""
        return get_task(self.task)

    def splits(self) -> Splits:
        """The task's data split of this search (``data_seed``), loaded once per process."""
        return self.get_task().splits(self.data_dir, self.download, self.data_seed)

    def knobs(self, params: Mapping[str, Any]) -> Knobs:
        """The knobs of a trial whose searched parameters are ``params``."""
        return self.space.knobs_for(self.get_task(), params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the Tune config's ``spec`` entry)."""
        return {"task": self.task, "space": self.space.to_dict(), "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "objective": self.objective.to_dict(),
                "drift": self.drift, "train_seed": self.train_seed, "select_seed": self.select_seed,
                "data_seed": self.data_seed, "eval_epochs": list(self.eval_epochs),
                "data_dir": self.data_dir, "download": self.download}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrialSpec":
        """Inverse of :meth:`to_dict`."""
        v = dict(values)
        v["space"], v["objective"] = Space.from_dict(v["space"]), Objective.from_dict(v["objective"])
        v["eval_epochs"] = tuple(int(e) for e in v["eval_epochs"])
        return cls(**v)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "TrialSpec":
        """The spec inside a Tune trial config."""
        if SPEC_KEY not in config:
            raise UserInputError(f"a trial config needs a {SPEC_KEY!r} entry (TrialSpec.to_dict()); got keys "
                                 f"{sorted(config)}. Build trial configs with TrialSpec.to_config().")
        return cls.from_dict(config[SPEC_KEY])

    def to_config(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A Tune config: the spec plus (optionally) one trial's searched parameters."""
        return {SPEC_KEY: self.to_dict(), **dict(params or {})}
