"""What every figure function shares: the :class:`FigureInfo` it returns and PNG saving."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from bayesft_tune.errors import UserInputError

__all__ = ["FigureInfo", "label", "require_rows", "save"]


@dataclass(frozen=True)
class FigureInfo:
    """What a plotting function wrote, for reports and tests.

    Attributes:
        path: the PNG file.
        xlabel: x-axis label (of the first panel).
        ylabel: y-axis label (of the first panel).
        n_series: lines (line plots), bar series (bar plots) or panels (decision boundaries).
        titles: panel titles.
        ylim: y-axis limits of the first panel.
        legend: legend entries of the first panel.
        caption: the text under the figure ("" if none).
        n_clipped: points outside the y-limits, drawn at the edge (convergence).
        xlim: x-axis limits of the first panel.
        ylabels: y-axis labels of every axes, colour bars included.
    """

    path: Path
    xlabel: str
    ylabel: str
    n_series: int
    titles: tuple[str, ...] = field(default_factory=tuple)
    ylim: tuple[float, float] = (float("nan"), float("nan"))
    legend: tuple[str, ...] = field(default_factory=tuple)
    caption: str = ""
    n_clipped: int = 0
    xlim: tuple[float, float] = (float("nan"), float("nan"))
    ylabels: tuple[str, ...] = field(default_factory=tuple)

    def __fspath__(self) -> str:
        return str(self.path)


def save(fig: Figure, path: str | os.PathLike, n_series: int, caption: str = "",
         n_clipped: int = 0) -> FigureInfo:
    """Write ``fig`` as a PNG (parent directories created) and describe it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight", format="png")
    ax = fig.axes[0]
    legend = ax.get_legend()
    entries = tuple(t.get_text() for t in legend.get_texts()) if legend else ()
    return FigureInfo(out, ax.get_xlabel(), ax.get_ylabel(), n_series,
                      tuple(a.get_title() for a in fig.axes if a.get_title()),
                      tuple(float(v) for v in ax.get_ylim()), entries, caption, n_clipped,
                      tuple(float(v) for v in ax.get_xlim()), tuple(a.get_ylabel() for a in fig.axes))


def require_rows(frame: pd.DataFrame, what: str, rows: str, fix: str) -> None:
    """Raise a :class:`UserInputError` if ``frame`` is empty."""
    if frame.empty:
        raise UserInputError(f"{what} needs at least one {rows}; got none. {fix}")


def label(key: tuple | str) -> str:
    """Legend label of a groupby key."""
    return " / ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
