"""PNG figures of a run: robustness curves, search convergence, dropout rates, and
the paper's Fig. 1 (decision boundaries of a small classifier under drift).

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas,
never through pyplot's global state, so they work headless and in threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bayesft_tune.errors import UserInputError
from bayesft_tune.schema import SLOT_PREFIX, slot_columns

from analysis.tables import best_trials, convergence, robustness_curves

if TYPE_CHECKING:  # torch is imported only when Fig. 1 is drawn
    import torch

__all__ = ["FigureInfo", "plot_convergence", "plot_decision_boundaries", "plot_dropout_rates",
           "plot_robustness"]

SIGMA_LABEL = "σ (drift)"


@dataclass(frozen=True)
class FigureInfo:
    """What a plotting function wrote, for reports and tests.

    Attributes:
        path: the PNG file.
        xlabel: x-axis label (of the first panel).
        ylabel: y-axis label (of the first panel).
        n_series: lines (line plots), bar series (bar plots) or panels (decision boundaries).
        titles: panel titles.
    """

    path: Path
    xlabel: str
    ylabel: str
    n_series: int
    titles: tuple[str, ...] = field(default_factory=tuple)

    def __fspath__(self) -> str:
        return str(self.path)


def _save(fig: Figure, path: str | os.PathLike, n_series: int) -> FigureInfo:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight", format="png")
    ax = fig.axes[0]
    return FigureInfo(out, ax.get_xlabel(), ax.get_ylabel(), n_series,
                      tuple(a.get_title() for a in fig.axes if a.get_title()))


def _require_rows(frame: pd.DataFrame, what: str, rows: str, fix: str) -> None:
    if frame.empty:
        raise UserInputError(f"{what} needs at least one {rows}; got none. {fix}")


def _label(key: tuple) -> str:
    return " / ".join(str(k) for k in key)


def plot_robustness(robustness: pd.DataFrame, path: str | os.PathLike,
                    title: str | None = "Accuracy under weight drift") -> FigureInfo:
    """Accuracy vs σ, one line per method (and run) with its 95 % CI as a band.

    Raises:
        UserInputError: empty robustness table.
    """
    _require_rows(robustness, "plot_robustness", "robustness row",
                  "Evaluate the methods over σ (robustness.parquet) first.")
    curves = robustness_curves(robustness)
    keys = [c for c in ("run", "method") if c in curves.columns]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for key, g in curves.groupby(keys, sort=True):
        line, = ax.plot(g["sigma"], g["accuracy_mean"], marker="o", ms=4, label=_label(key))
        ax.fill_between(g["sigma"], g["accuracy_ci_low"], g["accuracy_ci_high"],
                        color=line.get_color(), alpha=0.2, lw=0)
    ax.set(xlabel=SIGMA_LABEL, ylabel="accuracy", title=title or "")
    ax.grid(alpha=0.3)
    ax.legend(title="method", frameon=False)
    return _save(fig, path, len(ax.get_lines()))


def plot_convergence(trials_or_convergence: pd.DataFrame, path: str | os.PathLike,
                     by: str | Sequence[str] | None = None) -> FigureInfo:
    """Best-so-far objective vs trial number, one step line per searcher/run.

    Args:
        trials_or_convergence: a trials table, or the output of
            :func:`analysis.tables.convergence`.
        path: PNG to write.
        by: grouping column(s) when a trials table is passed (default ``run``/``searcher``).

    Raises:
        UserInputError: no completed trial.
    """
    frame = trials_or_convergence
    conv = frame if "best_so_far" in frame.columns else convergence(frame, by=by)
    _require_rows(conv, "plot_convergence", "completed trial with a trial_index",
                  "Wait for the search to complete trials.")
    groups = [c for c in conv.columns if c not in
              ("trial_number", "trial_index", "trial_id", "objective_mean", "best_so_far")]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    parts = conv.groupby(groups, sort=True) if groups else [(("all trials",), conv)]
    for key, g in parts:
        line, = ax.step(g["trial_number"], g["best_so_far"], where="post", lw=2, label=_label(key))
        ax.scatter(g["trial_number"], g["objective_mean"], s=12, alpha=0.35, color=line.get_color())
    ax.set(xlabel="trial", ylabel="best objective so far (drifted loss, nats)",
           title="Search convergence (dots: each trial)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return _save(fig, path, len(ax.get_lines()))


def plot_dropout_rates(trials: pd.DataFrame, path: str | os.PathLike, k: int = 5) -> FigureInfo:
    """Grouped bars of the per-slot dropout rates of the ``k`` best trials.

    Raises:
        UserInputError: no ``dropout_<slot>`` column, or no completed trial.
    """
    slots = slot_columns(trials)
    if not slots:
        raise UserInputError(f"plot_dropout_rates needs {SLOT_PREFIX}<slot> columns in trials; "
                             f"got columns {list(trials.columns)}.")
    top = best_trials(trials, k)
    _require_rows(top, "plot_dropout_rates", "completed trial",
                  "Wait for the search to complete trials.")
    fig = Figure(figsize=(max(5.0, 1.4 * len(slots) + 2.5), 4.2))
    ax = fig.add_subplot()
    x, width = np.arange(len(slots)), 0.8 / len(top)
    for i, row in enumerate(top.itertuples(index=False)):
        rates = [getattr(row, s) for s in slots]
        ax.bar(x + (i - (len(top) - 1) / 2) * width, rates, width,
               label=f"#{i + 1} {row.trial_id} ({row.objective_mean:.3g})")
    ax.set_xticks(x, [s.removeprefix(SLOT_PREFIX) for s in slots])
    ax.set(xlabel="dropout slot", ylabel="dropout rate", ylim=(0, 1),
           title=f"Dropout rates of the {len(top)} best trials")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="trial (objective)")
    return _save(fig, path, len(ax.containers))


def _moons_model(seed: int, epochs: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A 2-16-16-2 MLP trained on ``make_moons``; returns it with a held-out test set."""
    import torch
    from sklearn.datasets import make_moons
    from torch.utils.data import TensorDataset

    from bayesft_tune.models import mlp
    from bayesft_tune.training import TrainConfig, train

    x, y = make_moons(n_samples=400, noise=0.2, random_state=seed)
    xt, yt = make_moons(n_samples=300, noise=0.2, random_state=seed + 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = mlp(in_features=2, hidden=(16, 16), num_classes=2)
    data = TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y))
    train(model, data, TrainConfig(epochs=epochs, batch_size=32, lr=1e-2), seed=seed)
    return model.eval(), torch.as_tensor(xt, dtype=torch.float32), torch.as_tensor(yt)


def _draw_boundary(ax: Axes, model: torch.nn.Module, xt: torch.Tensor, yt: torch.Tensor,
                   sigma: float) -> None:
    import torch

    lo, hi = xt.min(0).values - 0.6, xt.max(0).values + 0.6
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], 200), torch.linspace(lo[1], hi[1], 200),
                            indexing="xy")
    with torch.inference_mode():
        prob = model(torch.stack([gx.ravel(), gy.ravel()], 1)).softmax(1)[:, 1].view_as(gx)
        acc = float((model(xt).argmax(1) == yt).float().mean())
    ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(xt[:, 0], xt[:, 1], c=yt, cmap="RdBu_r", s=9, edgecolors="k", linewidths=0.3)
    ax.set(title=f"σ = {sigma:g}, accuracy {acc:.2f}", xlabel="$x_1$", ylabel="$x_2$",
           xticks=[], yticks=[])


def plot_decision_boundaries(path: str | os.PathLike, sigmas: Sequence[float] = (0, 0.3, 0.6, 0.9),
                             seed: int = 0, epochs: int = 60) -> FigureInfo:
    """The paper's Fig. 1: decision boundary of a small MLP under log-normal drift.

    Trains ``mlp(in_features=2, hidden=(16, 16), num_classes=2)`` on
    ``make_moons(400, noise=0.2)`` and draws one drifted copy per σ
    (``get_drift("lognormal").perturb``). Every σ uses a generator seeded alike, so
    the panels share one noise draw scaled by σ (common random numbers) and show the
    boundary moving progressively. Titles give σ and accuracy on 300 held-out points.

    Raises:
        UserInputError: empty ``sigmas`` or a negative/non-finite σ.
    """
    import torch

    from bayesft_tune.drift import check_sigma, get_drift

    grid = [check_sigma(s) for s in sigmas]
    if not grid:
        raise UserInputError("sigmas must list at least one drift strength; got none. "
                             "Pass e.g. (0, 0.6).")
    model, xt, yt = _moons_model(int(seed), int(epochs))
    drift = get_drift("lognormal")
    fig = Figure(figsize=(3.2 * len(grid), 3.5))
    axes = fig.subplots(1, len(grid), squeeze=False)[0]
    for ax, sigma in zip(axes, grid):
        drifted = drift.perturb(model, sigma, torch.Generator().manual_seed(int(seed) + 1))
        _draw_boundary(ax, drifted, xt, yt, sigma)
    fig.suptitle("Decision boundary under log-normal weight drift θ' = θ·exp(λ), λ ~ N(0, σ²)")
    fig.tight_layout()
    return _save(fig, path, len(axes))
