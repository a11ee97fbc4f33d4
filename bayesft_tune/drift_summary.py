"""Per-σ summaries of a Monte Carlo drift table: mean, spread and confidence interval.

The table is :func:`~bayesft_tune.evaluation.evaluate_under_drift`'s (or a detection
table's): one row per (σ, sample) with ``loss`` and ``accuracy``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from bayesft_tune.errors import UserInputError

__all__ = ["summarize_drift"]


def summarize_drift(frame: pd.DataFrame, by: Sequence[str] = ("sigma",),
                    confidence: float = 0.95) -> pd.DataFrame:
    """Per-σ mean, std, standard error and confidence interval.

    Loss: the Student-t interval ``mean ± t_{n-1} · sem``. Accuracy (a fraction, also
    used for mAP by :mod:`bayesft_tune.detection`): the same t-interval on the logit
    scale, by the delta method, ``expit(logit(m) ± t_{n-1} · sem / (m (1 - m)))``. It
    always lies inside [0, 1] and contains the mean ``m``, is asymmetric near 0 and 1
    where accuracy cannot go further, and matches the plain t-interval to first order
    when it is narrow. (A plain t-interval over few, spread draws can leave [0, 1],
    e.g. "0.188 [-0.308, 0.684]".) A mean of exactly 0 or 1 is a point interval.

    Args:
        frame: output of :func:`evaluate_under_drift` (extra grouping columns allowed).
        by: grouping columns.
        confidence: two-sided level of the interval.

    Returns:
        One row per group with ``{loss,accuracy}_{mean,std,sem,ci_low,ci_high}`` and
        ``samples`` (T).
    """
    from scipy import stats  # lazy: 0.5 s of every trial worker's start, used only by summaries

    missing = sorted({*by, "loss", "accuracy"} - set(getattr(frame, "columns", ())))
    if not isinstance(frame, pd.DataFrame) or missing or frame.empty:
        raise UserInputError(f"summarize_drift needs evaluate_under_drift's rows (columns {sorted({*by, 'loss', 'accuracy'})}"
                             f", one row per draw); got {type(frame).__name__} with {len(getattr(frame, 'columns', ()))} "
                             f"columns, {len(frame) if hasattr(frame, '__len__') else 0} rows, missing {missing}.")
    out = frame.groupby(list(by), sort=True).agg(samples=("loss", "size"))
    for metric in ("loss", "accuracy"):
        g = frame.groupby(list(by), sort=True)[metric]
        mean, std, n = g.mean(), g.std(ddof=1).fillna(0.0), g.size()
        sem = std / np.sqrt(n)
        half = sem * stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        out[f"{metric}_mean"], out[f"{metric}_std"], out[f"{metric}_sem"] = mean, std, sem
        low, high = (mean - half, mean + half) if metric == "loss" else _logit_interval(mean, half)
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = low, high
    return out.reset_index()


def _logit_interval(mean: pd.Series, half: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Delta-method interval of a fraction on the logit scale (see :func:`summarize_drift`)."""
    m = mean.clip(0.0, 1.0)
    inside = (m > 0) & (m < 1)
    p = m.where(inside, 0.5)  # placeholder where the interval is the point m
    centre, spread = np.log(p / (1 - p)), half / (p * (1 - p))
    low = (1 / (1 + np.exp(-(centre - spread)))).where(inside, m)
    high = (1 / (1 + np.exp(-(centre + spread)))).where(inside, m)
    return low.clip(upper=m), high.clip(lower=m)
