"""The objective of a search and the trial summaries that depend on its direction.

``trials.parquet`` names its objective in two string columns, ``objective_name``
(e.g. ``"drifted_loss"``, ``"grid_accuracy"``) and ``objective_direction``
(``"min"`` or ``"max"``). Tables of schema version 1 lack them; they (and rows where
they are missing) mean the original objective: minimise ``"drifted_loss"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from bayesft_tune.errors import UserInputError

__all__ = ["DEFAULT_OBJECTIVE", "Objective", "best_trials", "completed", "convergence",
           "objective_of"]

NAME_COL, DIRECTION_COL = "objective_name", "objective_direction"
DIRECTIONS = ("min", "max")
_UNITS = {"drifted_loss": ("drifted loss", "nats"), "grid_accuracy": ("grid accuracy", "fraction")}


@dataclass(frozen=True)
class Objective:
    """The objective a search optimised.

    Attributes:
        name: the objective's name, e.g. ``"drifted_loss"``.
        direction: ``"min"`` (lower is better) or ``"max"`` (higher is better).
    """

    name: str = "drifted_loss"
    direction: str = "min"

    @property
    def minimize(self) -> bool:
        """True when lower values are better."""
        return self.direction == "min"

    @property
    def words(self) -> str:
        """Human name without unit, e.g. ``"drifted loss"``."""
        return _UNITS.get(self.name, (self.name.replace("_", " "), ""))[0]

    @property
    def unit(self) -> str:
        """Unit of the objective's values (``""`` if unknown)."""
        return _UNITS.get(self.name, ("", ""))[1]

    @property
    def label(self) -> str:
        """Axis label, e.g. ``"drifted loss (nats)"``."""
        return f"{self.words} ({self.unit})" if self.unit else self.words

    @property
    def better(self) -> str:
        """``"lower is better"`` or ``"higher is better"``."""
        return "lower is better" if self.minimize else "higher is better"

    @property
    def best_word(self) -> str:
        """``"lowest"`` or ``"highest"``."""
        return "lowest" if self.minimize else "highest"


DEFAULT_OBJECTIVE = Objective()
"""What a table without the objective columns (schema version 1) optimised."""


def _values(trials: pd.DataFrame, column: str, default: str) -> set[str]:
    if column not in trials.columns:
        return {default}
    return set(trials[column].astype("string").fillna(default).str.strip().str.lower())


def objective_of(trials: pd.DataFrame) -> Objective:
    """The single objective of a trials table (missing columns/values: min ``drifted_loss``).

    Raises:
        UserInputError: a direction other than ``min``/``max``, or rows of several
            objectives mixed in one table.
    """
    names = _values(trials, NAME_COL, DEFAULT_OBJECTIVE.name) if len(trials) else {"drifted_loss"}
    dirs = _values(trials, DIRECTION_COL, DEFAULT_OBJECTIVE.direction) if len(trials) else {"min"}
    bad = sorted(dirs - set(DIRECTIONS))
    if bad:
        raise UserInputError(f"{DIRECTION_COL} must be 'min' or 'max'; got {bad}. Fix the column "
                             "or drop it (a table without it means 'min').")
    if len(names) > 1 or len(dirs) > 1:
        raise UserInputError(f"a trials table must hold one objective; got objective_name "
                             f"{sorted(names)} and objective_direction {sorted(dirs)}. Analyse the "
                             "runs of each objective separately (filter on objective_name).")
    return Objective(names.pop(), dirs.pop())


def completed(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed trials with an objective (a missing status counts as not completed)."""
    done = trials["status"].eq("completed").fillna(False).astype(bool)
    return trials[done & trials["objective_mean"].notna().astype(bool)]


def best_trials(trials: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The ``k`` completed trials with the best ``objective_mean`` (best first).

    Best is the lowest value for a ``min`` objective and the highest for ``max``
    (see :func:`objective_of`); ties are broken by ``trial_id``.

    Raises:
        UserInputError: ``k`` is not a positive integer, or the table mixes objectives.
    """
    if int(k) != k or k < 1:
        raise UserInputError(f"k (number of trials) must be an integer >= 1; got k={k!r}.")
    sign = 1.0 if objective_of(trials).minimize else -1.0
    done = completed(trials)
    order = done.assign(_key=sign * done["objective_mean"].astype(float))
    order = order.sort_values(["_key", "trial_id"], kind="stable").drop(columns="_key")
    return order.head(int(k)).reset_index(drop=True)


def _default_group(trials: pd.DataFrame) -> list[str]:
    return [c for c in ("run", "searcher") if c in trials.columns]


def _groups(trials: pd.DataFrame, by: str | Sequence[str] | None) -> list[str]:
    groups = _default_group(trials) if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [c for c in groups if c not in trials.columns]
    if missing:
        raise UserInputError(f"by must name columns of the trials table; {missing} are not among "
                             f"{list(trials.columns)}.")
    return groups


def convergence(trials: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Best-so-far objective against trial index, per group.

    Completed trials with a ``trial_index`` and an objective, in ``trial_index``
    order; ``trial_number`` counts them from 1 within each group. Best so far is the
    running minimum for a ``min`` objective and the running maximum for ``max``.

    Args:
        trials: a trials table.
        by: grouping column(s); default ``run`` and/or ``searcher`` where present.

    Returns:
        Columns ``[by...,] trial_number, trial_index, trial_id, objective_mean,
        objective_sem, best_so_far, objective_name, objective_direction``.

    Raises:
        UserInputError: a ``by`` column the table lacks, or mixed objectives.
    """
    groups, objective = _groups(trials, by), objective_of(trials)
    done = completed(trials)
    done = done[done["trial_index"].notna().astype(bool)]
    done = done.sort_values([*groups, "trial_index"], kind="stable")
    if "objective_sem" not in done.columns:
        done = done.assign(objective_sem=np.nan)
    out = done[[*groups, "trial_index", "trial_id", "objective_mean", "objective_sem"]]
    out = out.reset_index(drop=True)
    values = out["objective_mean"].astype(float)
    parts = values.groupby([out[g] for g in groups], sort=False) if groups else values
    if groups:
        number = out.groupby(groups, sort=False).cumcount() + 1
    else:
        number = np.arange(1, len(out) + 1)
    out.insert(len(groups), "trial_number", number)
    out["best_so_far"] = parts.cummin() if objective.minimize else parts.cummax()
    return out.assign(objective_name=objective.name, objective_direction=objective.direction)
