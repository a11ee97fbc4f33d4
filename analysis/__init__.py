"""Analysis of BayesFT runs: load the Parquet tables, summarise, plot, report.

``load_run`` reads a run directory (local path or pyarrow URI); the table
functions return tidy DataFrames (best trials and convergence follow the objective's
direction, see :func:`objective_of`); the figure functions write PNGs;
``write_report`` assembles ``report.md`` and a self-contained ``report.html``
(``bayesft-tune report RUN_DIR``); :mod:`analysis.watch` is the live view of a
running search (``bayesft-tune watch RUN_DIR``).
"""

from __future__ import annotations

from analysis.figures import (FigureInfo, plot_convergence, plot_decision_boundaries,
                              plot_dropout_rates, plot_robustness)
from analysis.report import key_table, main, markdown_table, write_report
from analysis.tables import (Run, accuracy_at, auc, difference_vs, load_run, load_runs,
                             robustness_curves)
from analysis.trials import Objective, best_trials, convergence, objective_of

__all__ = [
    "FigureInfo",
    "Objective",
    "Run",
    "accuracy_at",
    "auc",
    "best_trials",
    "convergence",
    "difference_vs",
    "key_table",
    "load_run",
    "load_runs",
    "main",
    "markdown_table",
    "objective_of",
    "plot_convergence",
    "plot_decision_boundaries",
    "plot_dropout_rates",
    "plot_robustness",
    "robustness_curves",
    "write_report",
]
