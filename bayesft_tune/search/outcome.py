"""What a finished search returns: :class:`SearchOutcome`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["SearchOutcome"]


@dataclass(frozen=True)
class SearchOutcome:
    """What a finished search leaves.

    Attributes:
        run_dir: local path or URI holding the tables.
        best: the returned trial's row of ``trials`` (None if none completed).
        trials, robustness, selection: the tables as written.
        reference_clean_accuracy: the ERM reference's clean validation accuracy (or NaN).
        wall_time_s: seconds from start to tables written.
        searcher_seconds: GP total: time the Ax searcher spent generating points (in the
            driver; generation ahead overlaps running trials).
        searcher_blocking_seconds: GP blocking a slot: the part of ``searcher_seconds`` spent
            in Tune's thread while a free slot waited.
        pareto: the observed Pareto front (``multi_objective`` searches; else None).
        final_units: ``(taken, scored)``: the final job's scoring units taken from those scored
            ahead while the last trials ran, and those it scored after them ((0, 0) when
            nothing was scored ahead: trials one at a time, or the final job not in this process).
    """

    run_dir: str
    best: dict | None
    trials: pd.DataFrame
    robustness: pd.DataFrame
    selection: pd.DataFrame
    reference_clean_accuracy: float
    wall_time_s: float
    searcher_seconds: float
    pareto: pd.DataFrame | None = None
    searcher_blocking_seconds: float = math.nan
    final_units: tuple[int, int] = (0, 0)
