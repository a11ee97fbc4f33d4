"""PNG figures of a run: robustness curves, search convergence, dropout rates, and
the paper's Fig. 1 (decision boundaries of a small classifier under drift, in
:mod:`analysis.boundaries`).

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas,
never through pyplot's global state, so they work headless and in threads.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from bayesft_tune.argtypes import format_level
from bayesft_tune.errors import UserInputError
from bayesft_tune.schema import SLOT_PREFIX, slot_columns

from analysis._figbase import FigureInfo, label, require_rows, save
from analysis.boundaries import plot_decision_boundaries
from analysis.tables import robustness_curves
from analysis.trials import Objective, best_trials, convergence, objective_of

__all__ = ["DEFAULT_BOUNDS", "FigureInfo", "plot_convergence", "plot_decision_boundaries",
           "plot_dropout_rates", "plot_robustness", "robust_limits"]

SIGMA_LABEL = "σ (drift)"
DEFAULT_BOUNDS: tuple[float, float] = (0.0, 0.8)
"""Search bounds of every dropout rate in the default search (``SearchConfig.bounds``)."""
DRIFT_WORDS = {"lognormal": "log-normal drift θ' = θ·exp(λ), λ ~ N(0, σ²) per weight",
               "gaussian": "additive Gaussian drift θ' = θ + ε, ε ~ N(0, (σ·max|w|)²)",
               "stuck_at": "stuck-at faults, a fraction σ of the cells stuck",
               "pcm": "IBM's PCM model (programming noise, drift, 1/f read noise) on differential pairs",
               "reram_wan2022": "the NeuRRAM ReRAM chip's measured conductance deviations (Wan et al. 2022)"}
TIME_TICKS = (1.0, 3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0)
CONVERGENCE_COLUMNS = ("trial_number", "trial_index", "trial_id", "objective_mean",
                       "objective_sem", "best_so_far", "objective_name", "objective_direction")


def _distinct(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return []
    return sorted(str(v) for v in frame[column].dropna().unique())


def _samples_text(curves: pd.DataFrame) -> str:
    t = sorted(int(v) for v in curves["samples"].dropna().unique())
    return "T = ?" if not t else f"T = {t[0]}" if len(t) == 1 else f"T = {t[0]}–{t[-1]}"


def robustness_caption(robustness: pd.DataFrame) -> tuple[str, str]:
    """Title and caption of the robustness figure: drift model, split, what the band is."""
    drifts, splits = _distinct(robustness, "drift"), _distinct(robustness, "split")
    drift = ", ".join(drifts) or "unknown"
    split = ", ".join(splits) or "unknown"
    title = f"Accuracy under {drift} weight drift ({split} split)"
    model = "; ".join(DRIFT_WORDS.get(d, d) for d in drifts) or "drift model not recorded"
    caption = (f"Line: mean accuracy on the {split} split; band: 95 % CI of that mean over "
               f"{_samples_text(robustness)} Monte Carlo drift draws of one trained network "
               f"(Student-t). Drift: {model}.")
    return title, caption


def plot_robustness(robustness: pd.DataFrame, path: str | os.PathLike,
                    title: str | None = None, caption: str | None = None) -> FigureInfo:
    """Accuracy vs σ, one line per method (and run) with its 95 % CI as a band.

    Args:
        robustness: a robustness table (one drift model and split).
        path: PNG to write.
        title: panel title; default names the drift model and split (``""``: none).
        caption: what the line and band are; default: one network's mean and the CI over its T draws.

    Raises:
        UserInputError: empty robustness table.
    """
    require_rows(robustness, "plot_robustness", "robustness row",
                 "Evaluate the methods over σ (robustness.parquet) first.")
    curves = robustness_curves(robustness)
    keys = [c for c in ("run", "method") if c in curves.columns]
    auto_title, auto_caption = robustness_caption(robustness)
    caption = auto_caption if caption is None else caption
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    time = "level_axis" in robustness and (robustness["level_axis"] == "time").any()
    for key, g in curves.groupby(keys, sort=True):
        if time:  # log time axis: t = 0 (the clean network) is a dotted line, not a point
            clean, g = g[g["sigma"] == 0], g[g["sigma"] > 0]
        line, = ax.plot(g["sigma"], g["accuracy_mean"], marker="o", ms=4, label=label(key))
        ax.fill_between(g["sigma"], g["accuracy_ci_low"], g["accuracy_ci_high"],
                        color=line.get_color(), alpha=0.2, lw=0)
        if time and len(clean):
            ax.axhline(clean["accuracy_mean"].iloc[0], color=line.get_color(), ls=":", lw=1)
    if time:
        ax.set_xscale("log")
        ax.set_xticks(TIME_TICKS, [format_level(t, "s") for t in TIME_TICKS])
    ax.set(xlabel="time since programming (dotted: clean, t = 0)" if time else SIGMA_LABEL, ylabel="accuracy",
           title=auto_title if title is None else title)
    ax.grid(alpha=0.3)
    ax.legend(title="method (band: 95 % CI)", frameon=False)
    fig.text(0.02, -0.01, caption, ha="left", va="top", fontsize="small", wrap=True)
    return save(fig, path, len(ax.get_lines()), caption=caption)


def robust_limits(values: np.ndarray, keep: Sequence[float] = (), k: float = 3.0,
                  min_points: int = 5) -> tuple[float, float]:
    """Y-limits that cover the bulk of ``values`` and every value of ``keep``.

    Values beyond Tukey's far-out fences ``[Q1 - k·IQR, Q3 + k·IQR]`` are left out
    (with fewer than ``min_points`` values, or IQR 0, none is), so one diverged trial
    cannot squash the range where the search happens; 6 % padding on each side.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) >= min_points:
        q1, q3 = np.percentile(v, [25, 75])
        if q3 > q1:
            v = v[(v >= q1 - k * (q3 - q1)) & (v <= q3 + k * (q3 - q1))]
    both = np.concatenate([v, np.asarray(keep, dtype=float)])
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    pad = 0.06 * (hi - lo) if hi > lo else max(0.05 * abs(hi), 0.05)
    return lo - pad, hi + pad


def _clip_marks(ax: Axes, x: pd.Series, y: pd.Series, lim: tuple[float, float],
                color: str) -> int:
    """Draw points outside ``lim`` at the edge (▲ above, ▼ below) with their value."""
    n = 0
    for side, mask, marker in ((lim[1], y > lim[1], "^"), (lim[0], y < lim[0], "v")):
        ax.scatter(x[mask], np.full(int(mask.sum()), side), marker=marker, s=60, color=color,
                   edgecolors="black", linewidths=0.8, clip_on=False, zorder=4)
        for xi, yi in zip(x[mask], y[mask]):
            ax.annotate(f"{yi:.3g}", (xi, side), xytext=(5, -10 if marker == "^" else 4),
                        textcoords="offset points", fontsize=7, annotation_clip=False)
        n += int(mask.sum())
    return n


def _draw_group(ax: Axes, g: pd.DataFrame, name: str, lim: tuple[float, float],
                color: str, objective: Objective) -> int:
    """Trials (dots ± SEM), best-so-far line and best star of one group; returns clipped."""
    x, y = g["trial_index"].astype(float), g["objective_mean"].astype(float)
    inside = (y >= lim[0]) & (y <= lim[1])
    sem = g["objective_sem"].astype(float).fillna(0.0)[inside]
    prefix = f"{name}: " if name else ""
    ax.errorbar(x[inside], y[inside], yerr=sem, fmt="o", ms=4, color=color, alpha=0.55,
                elinewidth=1, capsize=2, label=f"{prefix}trials (mean ± SEM)")
    ax.step(x, g["best_so_far"].astype(float), where="post", lw=2, color=color,
            label=f"{prefix}best so far")
    best = g.iloc[int(np.argmin(y) if objective.minimize else np.argmax(y))]
    ax.scatter([float(best["trial_index"])], [float(best["objective_mean"])], marker="*", s=160,
               color=color, edgecolors="black", linewidths=0.8, zorder=5,
               label=f"{prefix}best: {best['trial_id']} ({float(best['objective_mean']):.4g})")
    return _clip_marks(ax, x, y, lim, color)


def _finish_convergence(ax: Axes, objective: Objective, clipped: int) -> None:
    pairs = sorted(zip(*ax.get_legend_handles_labels()),
                   key=lambda p: [k in p[1] for k in ("trials (", "best so far", "best: ")].index(True))
    handles, labels = [h for h, _ in pairs], [t for _, t in pairs]
    if clipped:
        handles.append(Line2D([], [], ls="", marker="^", ms=8, color="grey", markeredgecolor="k"))
        labels.append(f"{clipped} trial{'s' if clipped > 1 else ''} off scale "
                      "(drawn at the edge, value printed)")
    ax.legend(handles, labels, frameon=False, fontsize="small", loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    ax.set(xlabel="trial index (0-based, as in trials.parquet)",
           ylabel=f"{objective.label}, {objective.better}",
           title=f"Search convergence: {objective.words} ({objective.better})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def plot_convergence(trials_or_convergence: pd.DataFrame, path: str | os.PathLike,
                     by: str | Sequence[str] | None = None) -> FigureInfo:
    """Each completed trial's objective (± SEM) and the best so far vs trial index.

    The y-limits come from :func:`robust_limits` (the best value is always inside);
    trials beyond them are drawn at the edge and counted in the legend.

    Args:
        trials_or_convergence: a trials table, or the output of
            :func:`analysis.trials.convergence`.
        path: PNG to write.
        by: grouping column(s) when a trials table is passed (default ``run``/``searcher``).

    Raises:
        UserInputError: no completed trial, or mixed objectives.
    """
    frame = trials_or_convergence
    conv = frame if "best_so_far" in frame.columns else convergence(frame, by=by)
    require_rows(conv, "plot_convergence", "completed trial with a trial_index",
                 "Wait for the search to complete trials.")
    conv = conv if "objective_sem" in conv.columns else conv.assign(objective_sem=np.nan)
    objective = objective_of(conv)
    groups = [c for c in conv.columns if c not in CONVERGENCE_COLUMNS]
    ends = conv.groupby(groups)["best_so_far"].last() if groups else conv["best_so_far"].iloc[-1:]
    lim = robust_limits(conv["objective_mean"].to_numpy(float), keep=ends.to_numpy(float))
    fig = Figure(figsize=(7.6, 4.4))
    ax = fig.add_subplot()
    ax.set_ylim(*lim)
    parts = list(conv.groupby(groups, sort=True)) if groups else [("", conv)]
    clipped = 0
    for i, (key, g) in enumerate(parts):
        clipped += _draw_group(ax, g, label(key) if groups else "", lim, f"C{i}", objective)
    _finish_convergence(ax, objective, clipped)
    return save(fig, path, len(parts), n_clipped=clipped)


def _check_bounds(bounds: tuple[float, float] | None) -> tuple[float, float] | None:
    if bounds is None:
        return None
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as err:
        raise UserInputError(f"bounds must be (low, high) numbers; got {bounds!r}. "
                             "Pass e.g. (0, 0.8), or None to draw none.") from err
    if not 0.0 <= lo < hi <= 1.0:
        raise UserInputError(f"bounds must satisfy 0 <= low < high <= 1; got {bounds!r}. "
                             "Pass the search's bounds, e.g. (0, 0.8).")
    return lo, hi


def _draw_bounds(ax: Axes, bounds: tuple[float, float] | None) -> None:
    if bounds is None:
        return
    lo, hi = bounds
    for y0, y1 in ((0.0, lo), (hi, 1.0)):
        if y1 > y0:
            ax.axhspan(y0, y1, color="0.85", zorder=0, lw=0)
    ax.axhline(lo, color="0.3", ls="--", lw=1.2, zorder=1)
    ax.axhline(hi, color="0.3", ls="--", lw=1.2, zorder=1,
               label=f"search bounds [{lo:g}, {hi:g}] (grey: outside)")


def plot_dropout_rates(trials: pd.DataFrame, path: str | os.PathLike, k: int = 5,
                       bounds: tuple[float, float] | None = DEFAULT_BOUNDS) -> FigureInfo:
    """Grouped bars of the per-slot dropout rates of the ``k`` best trials.

    Args:
        trials: a trials table with ``dropout_<slot>`` columns.
        path: PNG to write.
        k: number of best trials.
        bounds: the search's ``(low, high)`` of every rate, drawn as dashed lines with
            the outside shaded; ``None`` draws none.

    Raises:
        UserInputError: no ``dropout_<slot>`` column, no completed trial, or bad bounds.
    """
    slots, bounds = slot_columns(trials), _check_bounds(bounds)
    if not slots:
        raise UserInputError(f"plot_dropout_rates needs {SLOT_PREFIX}<slot> columns in trials; "
                             f"got columns {list(trials.columns)}.")
    top, objective = best_trials(trials, k), objective_of(trials)
    require_rows(top, "plot_dropout_rates", "completed trial",
                 "Wait for the search to complete trials.")
    fig = Figure(figsize=(max(5.0, 1.4 * len(slots) + 2.5), 4.2))
    ax = fig.add_subplot()
    x, width = np.arange(len(slots)), 0.8 / len(top)
    _draw_bounds(ax, bounds)
    for i, row in enumerate(top.itertuples(index=False)):
        rates = [getattr(row, s) for s in slots]
        ax.bar(x + (i - (len(top) - 1) / 2) * width, rates, width, zorder=2,
               label=f"#{i + 1} {row.trial_id} ({row.objective_mean:.3g})")
    ax.set_xticks(x, [s.removeprefix(SLOT_PREFIX) for s in slots])
    ax.set(xlabel="dropout slot", ylabel="dropout rate", ylim=(0, 1),
           title=f"Dropout rates of the {len(top)} best trials ({objective.best_word} "
                 f"{objective.words})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title=f"trial ({objective.words})")
    return save(fig, path, len(ax.containers))
