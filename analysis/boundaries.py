"""The paper's Fig. 1: decision boundaries of a small classifier under weight drift.

torch and scikit-learn are imported inside the functions: they are heavy and only
this figure needs them, so ``import analysis`` stays light.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.contour import QuadContourSet
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bayesft_tune.errors import UserInputError

from analysis._figbase import FigureInfo, save

if TYPE_CHECKING:  # torch is imported only when Fig. 1 is drawn
    import torch

__all__ = ["plot_decision_boundaries"]

CMAP = "RdBu_r"
# class 0: white circles edged black; class 1: black triangles edged white - legible on
# every shade of the probability map
CLASS_STYLE = ({"marker": "o", "facecolor": "white", "edgecolor": "black"},
               {"marker": "^", "facecolor": "black", "edgecolor": "white"})


def _moons_model(seed: int, epochs: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A 2-16-16-2 MLP trained on ``make_moons``; returns it with a held-out test set."""
    import torch  # heavy optional dependency, only for this figure
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
                   sigma: float) -> QuadContourSet:
    """Probability map, 0.5 contour and test points of one drifted model on ``ax``."""
    import torch  # heavy optional dependency, only for this figure

    lo, hi = xt.min(0).values - 0.6, xt.max(0).values + 0.6
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], 200), torch.linspace(lo[1], hi[1], 200),
                            indexing="xy")
    with torch.inference_mode():
        prob = model(torch.stack([gx.ravel(), gy.ravel()], 1)).softmax(1)[:, 1].view_as(gx)
        acc = float((model(xt).argmax(1) == yt).float().mean())
    filled = ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap=CMAP, vmin=0, vmax=1,
                         alpha=0.7)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=2)
    for cls, style in enumerate(CLASS_STYLE):
        pts = xt[yt == cls]
        ax.scatter(pts[:, 0], pts[:, 1], s=16, linewidths=0.7, **style)
    ax.set(title=f"σ = {sigma:g}, accuracy {acc:.2f}", xlabel="$x_1$", ylabel="$x_2$",
           xticks=[], yticks=[])
    return filled


def _legend(fig: Figure, axes: Sequence[Axes]) -> None:
    handles = [Line2D([], [], ls="", ms=7, marker=s["marker"], markerfacecolor=s["facecolor"],
                      markeredgecolor=s["edgecolor"], label=f"class {c} (test point)")
               for c, s in enumerate(CLASS_STYLE)]
    handles.append(Line2D([], [], color="k", lw=2, label="decision boundary (P = 0.5)"))
    axes[0].legend(handles=handles, loc="upper left", fontsize="x-small", framealpha=0.85)


def plot_decision_boundaries(path: str | os.PathLike, sigmas: Sequence[float] = (0, 0.3, 0.6, 0.9),
                             seed: int = 0, epochs: int = 60) -> FigureInfo:
    """The paper's Fig. 1: decision boundary of a small MLP under log-normal drift.

    Trains ``mlp(in_features=2, hidden=(16, 16), num_classes=2)`` on
    ``make_moons(400, noise=0.2)`` and draws one drifted copy per σ
    (``get_drift("lognormal").perturb``). Every σ uses a generator seeded alike, so
    the panels share one noise draw scaled by σ (common random numbers) and show the
    boundary moving progressively. Titles give σ and accuracy on 300 held-out points;
    a colour bar gives the predicted probability of class 1.

    Raises:
        UserInputError: empty ``sigmas`` or a negative/non-finite σ.
    """
    import torch  # heavy optional dependency, only for this figure

    from bayesft_tune.drift import check_sigma, get_drift

    grid = [check_sigma(s) for s in sigmas]
    if not grid:
        raise UserInputError("sigmas must list at least one drift strength; got none. "
                             "Pass e.g. (0, 0.6).")
    model, xt, yt = _moons_model(int(seed), int(epochs))
    drift = get_drift("lognormal")
    fig = Figure(figsize=(3.2 * len(grid) + 1.2, 3.7), layout="constrained")
    axes = fig.subplots(1, len(grid), squeeze=False)[0]
    for ax, sigma in zip(axes, grid):
        drifted = drift.perturb(model, sigma, torch.Generator().manual_seed(int(seed) + 1))
        filled = _draw_boundary(ax, drifted, xt, yt, sigma)
    fig.colorbar(filled, ax=list(axes), label="P(class 1)", ticks=np.linspace(0, 1, 6),
                 shrink=0.9, pad=0.02)
    _legend(fig, axes)
    fig.suptitle("Decision boundary under log-normal weight drift θ' = θ·exp(λ), λ ~ N(0, σ²)")
    return save(fig, path, len(axes))
