"""The search objective: its name, direction, σ grid and how it is computed from MC draws.

One :class:`Objective` travels from the search config to the trials, the searcher, the
recorder (``objective_name`` / ``objective_direction`` columns) and the analysis.

* ``drifted_loss`` (the paper's Eq. 4): mean cross-entropy over T drift draws at one σ,
  minimised. It rewards under-confidence: a network that hedges every answer can score
  a lower drifted loss than one that is right more often.
* ``grid_accuracy``: mean accuracy over a σ grid, maximised; each draw scores every σ of
  the grid with the same noise (common random numbers), so the SEM is over draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bayesft_tune.errors import UserInputError

__all__ = ["OBJECTIVES", "Objective", "ObjectiveName"]

ObjectiveName = Literal["drifted_loss", "grid_accuracy"]
OBJECTIVES: dict[str, Literal["min", "max"]] = {"drifted_loss": "min", "grid_accuracy": "max"}
"""Objective name -> direction."""


@dataclass(frozen=True)
class Objective:
    """What a trial reports as its objective.

    Attributes:
        name: ``"drifted_loss"`` or ``"grid_accuracy"``.
        target_sigma: σ of ``drifted_loss`` (and of the reported ``drifted_*`` metrics).
        grid: σ grid averaged by ``grid_accuracy`` (ignored by ``drifted_loss``).
        samples: Monte Carlo draws T per evaluation (>= 2, for an SEM).
    """

    name: ObjectiveName
    target_sigma: float
    grid: tuple[float, ...]
    samples: int

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise UserInputError(f"objective must be one of {sorted(OBJECTIVES)}; got {self.name!r}. "
                                 "Fix --objective.")
        sigmas = (self.target_sigma, *self.grid)
        if not self.grid or not all(isinstance(s, (int, float)) and not isinstance(s, bool)
                                    and math.isfinite(s) and s >= 0 for s in sigmas):
            raise UserInputError(f"objective σ values must be numbers >= 0 and the grid non-empty; got "
                                 f"target_sigma={self.target_sigma!r}, grid={self.grid!r}. Fix "
                                 "--target-sigma / --objective-sigmas.")
        if isinstance(self.samples, bool) or int(self.samples) != self.samples or self.samples < 2:
            raise UserInputError(f"samples (T) must be an integer >= 2 (an SEM needs 2); got "
                                 f"{self.samples!r}. Fix --samples.")

    @property
    def direction(self) -> Literal["min", "max"]:
        """``"min"`` or ``"max"``."""
        return OBJECTIVES[self.name]

    @property
    def sem_metric(self) -> str:
        """Name of the reported standard error of the objective."""
        return f"{self.name}_sem"

    def better(self, a: float, b: float) -> bool:
        """True if objective value ``a`` is strictly better than ``b``."""
        return a < b if self.direction == "min" else a > b

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {"name": self.name, "target_sigma": self.target_sigma, "grid": list(self.grid),
                "samples": self.samples}

    @classmethod
    def from_dict(cls, values: dict) -> "Objective":
        """Inverse of :meth:`to_dict`."""
        return cls(values["name"], float(values["target_sigma"]), tuple(values["grid"]), int(values["samples"]))

    @property
    def eval_sigmas(self) -> list[float]:
        """σ values one evaluation must cover (sorted)."""
        grid = self.grid if self.name == "grid_accuracy" else ()
        return sorted({float(self.target_sigma), *map(float, grid)})

    def score(self, frame: pd.DataFrame) -> dict[str, float]:
        """Objective metrics from an ``evaluate_under_drift`` frame covering :attr:`eval_sigmas`.

        Returns:
            ``drifted_loss``, ``drifted_accuracy`` (and ``_sem``) at :attr:`target_sigma`,
            plus ``grid_accuracy`` (and ``_sem``, over draws) for that objective.
        """
        at = frame[np.isclose(frame.sigma, float(self.target_sigma))]
        out = {"drifted_loss": float(at.loss.mean()), "drifted_loss_sem": _sem(at.loss),
               "drifted_accuracy": float(at.accuracy.mean()), "drifted_accuracy_sem": _sem(at.accuracy)}
        if self.name == "grid_accuracy":
            grid = frame[frame.sigma.round(9).isin([round(float(s), 9) for s in self.grid])]
            per_draw = grid.groupby("sample").accuracy.mean()  # mean over σ, per MC draw
            out["grid_accuracy"], out["grid_accuracy_sem"] = float(per_draw.mean()), _sem(per_draw)
        return out


def _sem(values: pd.Series) -> float:
    n = len(values)
    return float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
