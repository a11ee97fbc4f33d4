"""Paired statistics across seeds: per-seed metrics of robustness curves and paired tests.

Every method of one seed shares the data split and the test drift draws, so the
per-seed difference between two methods is a paired sample; its mean gets a 95 %
t-interval, a paired t-test and a Wilcoxon signed-rank test (exact for small n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayesft_tune.argtypes import format_level
from bayesft_tune.errors import UserInputError

__all__ = ["TABLE_SIGMAS", "auc_of", "holm", "markdown_table", "paired_tests", "per_seed"]

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
    """One row per (method, seed label ``trial_id``): ``clean``, ``acc@<level>`` and ``auc``.

    On the σ axis: accuracy at :data:`TABLE_SIGMAS` and the normalised area over σ in
    [0, 1.5]. On a time axis (device models): accuracy at every time of the grid
    (``acc@1 d``) and ``auc`` = mean accuracy over those times (each one equally)."""
    time = "level_axis" in rows and (rows.level_axis == "time").any()
    recs = []
    for (method, label), g in rows.groupby(["method", "trial_id"], sort=False):
        g = g.assign(sigma=g.sigma.round(9))
        acc = g.set_index("sigma").accuracy_mean
        rec = {"method": method, "trial_id": label, "clean": float(acc.get(0.0, np.nan))}
        if time:
            later = acc[acc.index > 0].sort_index()
            rec.update({f"acc@{format_level(t, 's')}": float(a) for t, a in later.items()})
            rec["auc"] = float(later.mean())
        else:
            rec.update({f"acc@{s}": float(acc.get(round(s, 9), np.nan)) for s in TABLE_SIGMAS})
            rec["auc"] = auc_of(acc.index.to_numpy(), acc.to_numpy())
        recs.append(rec)
    return pd.DataFrame(recs)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN, not counted)."""
    p = np.asarray(p_values, float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok])]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out


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
                        "t_p_value": t_p, "wilcoxon_p_value": w_p, "ci_excludes_zero": bool(lo > 0 or hi < 0)})
    columns = ["method", "reference", "metric", "n", "mean", "reference_mean", "diff", "ci_low", "ci_high",
               "t_p_value", "wilcoxon_p_value", "ci_excludes_zero"]
    return _with_holm(pd.DataFrame(out, columns=columns))


def _with_holm(tests: pd.DataFrame) -> pd.DataFrame:
    """``holm_p_value``: the t-tests' p-values Holm-adjusted over the methods compared on one
    metric (the family of one table column); ``significant``: Holm-adjusted p < 0.05 and the CI
    excludes 0."""
    if tests.empty:
        return tests.drop(columns="ci_excludes_zero").assign(holm_p_value=pd.Series(dtype=float),
                                                             significant=pd.Series(dtype=bool))
    tests["holm_p_value"] = tests.groupby("metric").t_p_value.transform(lambda p: holm(p.to_numpy()))
    tests["significant"] = (tests.holm_p_value < 0.05) & tests.pop("ci_excludes_zero")
    return tests


def markdown_table(rows: pd.DataFrame, reference: str, methods: list[str], compute: dict[str, str]) -> str:
    """Markdown: per method, the mean over seeds of each metric (%), its compute (``compute``:
    trainings x epochs), and the paired AUC difference against ``reference`` with its 95 % CI,
    the raw t / Wilcoxon p-values and the Holm-adjusted one (``*``: significant after Holm)."""
    seeds = per_seed(rows)
    metrics = [c for c in seeds.columns if c not in ("method", "trial_id")]
    tests = paired_tests(rows, reference) if reference in set(rows.method) else \
        pd.DataFrame(columns=["method", "metric"])
    lines = ["| method | trainings x epochs | " + " | ".join(metrics)
             + f" | AUC - {reference} [95% CI] | p (t / Wilcoxon) | p (Holm) |", "|" + "---|" * (len(metrics) + 5)]
    for method in methods:
        g = seeds[seeds.method == method]
        cells = " | ".join(f"{100 * g[m].mean():.1f}" for m in metrics)
        t = tests[(tests.method == method) & (tests.metric == "auc")]
        diff = ("–", "–", "–") if t.empty else (
            f"{100 * t['diff'].iloc[0]:+.1f} [{100 * t.ci_low.iloc[0]:+.1f}, {100 * t.ci_high.iloc[0]:+.1f}]"
            + (" *" if bool(t.significant.iloc[0]) else ""),
            f"{t.t_p_value.iloc[0]:.3g} / {t.wilcoxon_p_value.iloc[0]:.3g}", f"{t.holm_p_value.iloc[0]:.3g}")
        lines.append(f"| {method} | {compute[method]} | {cells} | {' | '.join(diff)} |")
    return "\n".join(lines)
