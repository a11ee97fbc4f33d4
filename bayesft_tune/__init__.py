"""bayesft-tune: BayesFT (Bayesian optimisation of per-layer dropout for networks
robust to ReRAM weight drift) as a Ray Tune service.

The core (drift models, dropout for any network, Monte Carlo robustness
evaluation, models, data, training) imports only torch, numpy and pandas; the
search service (``AxSearcher``, ``run_search``) needs Ax and Ray. Every name here is
loaded on first use, so ``import bayesft_tune`` (and the command line's first line)
does not wait for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time each name loads on first use (_LAZY)
    from bayesft_tune.data import Splits, dataset_names, load_data
    from bayesft_tune.drift import DriftModel, drift_names, get_drift
    from bayesft_tune.dropout import add_dropout, dropout_rates, dropout_slots
    from bayesft_tune.errors import UserInputError
    from bayesft_tune.drift_summary import summarize_drift
    from bayesft_tune.evaluation import DEFAULT_SIGMAS, evaluate_under_drift
    from bayesft_tune.models import build_model, model_names
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.results import load_trial_model
    from bayesft_tune.search.runner import run_search
    from bayesft_tune.search.searcher import AxSearcher
    from bayesft_tune.tasks import Task
    from bayesft_tune.training import TrainConfig, Trainer, train

__version__ = "0.1.0"

_LAZY = {
    **dict.fromkeys(("Splits", "dataset_names", "load_data"), "bayesft_tune.data"),
    **dict.fromkeys(("DriftModel", "drift_names", "get_drift"), "bayesft_tune.drift"),
    **dict.fromkeys(("add_dropout", "dropout_rates", "dropout_slots"), "bayesft_tune.dropout"),
    "UserInputError": "bayesft_tune.errors",
    **dict.fromkeys(("DEFAULT_SIGMAS", "evaluate_under_drift"), "bayesft_tune.evaluation"),
    "summarize_drift": "bayesft_tune.drift_summary",
    **dict.fromkeys(("build_model", "model_names"), "bayesft_tune.models"),
    **dict.fromkeys(("TrainConfig", "Trainer", "train"), "bayesft_tune.training"),
    "AxSearcher": "bayesft_tune.search.searcher", "SearchConfig": "bayesft_tune.search.config",
    "run_search": "bayesft_tune.search.runner", "load_trial_model": "bayesft_tune.search.results",
    "Task": "bayesft_tune.tasks",
}
"""Where each public name lives: imported from there on first use."""

__all__ = sorted(_LAZY)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayesft_tune' has no attribute {name!r}")
