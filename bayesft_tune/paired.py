"""Paired statistics across seeds: per-seed metrics of robustness curves and paired tests.

Every method of one seed shares the data split and the test drift draws, so the
per-seed difference between two methods is a paired sample; its mean gets a 95 %
t-interval, a paired t-test and a Wilcoxon signed-rank test (exact for small n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayesft_tune.errors import UserInputError

__all__ = ["TABLE_SIGMAS", "auc_of", "paired_tests", "per_seed"]

TABLE_SIGMAS = (0.9, 1.2, 1.5)
"""σ at which accuracy is tabulated next to clean accuracy and AUC."""


def auc_of(sigma: np.ndarray, accuracy: np.ndarray, lo: float = 0.0, hi: float = 1.5) -> float:
    """Normalised trapezoid area of accuracy over ``[lo, hi]`` (a flat curve at ``a`` gives ``a``)."""
    order = np.argsort(sigma)
    s, a = np.asarray(sigma, float)[order], np.asarray(accuracy, float)[order]
    if s[0] > lo + 1e-9 or s[-1] < hi - 1e-9:
        return float("nan")
    grid = np.unique(np.clip(np.concatenate([s, [lo, hi]]), lo, hi))
    return float(np.trapezoid(np.interp(grid, s, a), grid) / (hi - lo))


def per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, seed label ``trial_id``): ``clean``, ``acc@σ`` and ``auc``."""
    recs = []
    for (method, label), g in rows.groupby(["method", "trial_id"], sort=False):
        g = g.assign(sigma=g.sigma.round(9))
        acc = g.set_index("sigma").accuracy_mean
        rec = {"method": method, "trial_id": label, "clean": float(acc.get(0.0, np.nan))}
        rec.update({f"acc@{s}": float(acc.get(round(s, 9), np.nan)) for s in TABLE_SIGMAS})
        rec["auc"] = auc_of(acc.index.to_numpy(), acc.to_numpy())
        recs.append(rec)
    return pd.DataFrame(recs)


def _test(diff: np.ndarray) -> tuple[float, float, float, float]:
    """(CI low, CI high, paired t p-value, Wilcoxon p-value) of the mean of ``diff``."""
    n = len(diff)
    if n < 2 or np.allclose(diff, diff[0]):
        same = float(diff.mean()) if n else float("nan")
        return same, same, (1.0 if n and same == 0 else float("nan")), float("nan")
    half = stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n)
    t_p = float(stats.ttest_1samp(diff, 0.0).pvalue)
    w_p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    return float(diff.mean() - half), float(diff.mean() + half), t_p, w_p


def paired_tests(rows: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Every other method against ``reference``, per metric, paired over seed labels.

    Returns:
        Rows of schema ``COMPARE_TESTS`` (``diff`` = method - reference).

    Raises:
        UserInputError: ``reference`` is not a method of ``rows``.
    """
    seeds = per_seed(rows)
    if reference not in set(seeds.method):
        raise UserInputError(f"the paired reference method {reference!r} is not in the table "
                             f"(methods {sorted(set(seeds.method))}).")
    ref = seeds[seeds.method == reference].set_index("trial_id")
    metrics = [c for c in seeds.columns if c not in ("method", "trial_id")]
    out = []
    for method in dict.fromkeys(seeds.method):
        if method == reference:
            continue
        own = seeds[seeds.method == method].set_index("trial_id")
        both = own.index.intersection(ref.index)
        for m in metrics:
            diff = (own.loc[both, m] - ref.loc[both, m]).dropna().to_numpy(float)
            lo, hi, t_p, w_p = _test(diff)
            out.append({"method": method, "reference": reference, "metric": m, "n": len(diff),
                        "mean": float(own.loc[both, m].mean()), "reference_mean": float(ref.loc[both, m].mean()),
                        "diff": float(diff.mean()) if len(diff) else np.nan, "ci_low": lo, "ci_high": hi,
                        "t_p_value": t_p, "wilcoxon_p_value": w_p,
                        "significant": bool(t_p < 0.05 and (lo > 0 or hi < 0)) if np.isfinite(t_p) else False})
    return pd.DataFrame(out)
