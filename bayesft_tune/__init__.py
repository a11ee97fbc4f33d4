"""bayesft-tune: BayesFT (Bayesian optimisation of per-layer dropout for networks
robust to ReRAM weight drift) as a Ray Tune service.

The core (drift models, dropout for any network, Monte Carlo robustness
evaluation, models, data, training) imports only torch, numpy and pandas; the
search service (``AxSearcher``, ``run_search``) is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from bayesft_tune.data import Splits, dataset_names, load_data
from bayesft_tune.drift import DriftModel, drift_names, get_drift
from bayesft_tune.dropout import add_dropout, dropout_rates, dropout_slots
from bayesft_tune.errors import UserInputError
from bayesft_tune.evaluation import DEFAULT_SIGMAS, evaluate_under_drift, summarize_drift
from bayesft_tune.models import build_model, model_names
from bayesft_tune.training import TrainConfig, Trainer, train

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SIGMAS",
    "AxSearcher",
    "DriftModel",
    "SearchConfig",
    "Splits",
    "TrainConfig",
    "Trainer",
    "UserInputError",
    "add_dropout",
    "build_model",
    "dataset_names",
    "drift_names",
    "dropout_rates",
    "dropout_slots",
    "evaluate_under_drift",
    "get_drift",
    "load_data",
    "load_trial_model",
    "model_names",
    "run_search",
    "summarize_drift",
    "train",
]

_LAZY = {"AxSearcher": "bayesft_tune.search.searcher", "SearchConfig": "bayesft_tune.search.config",
         "run_search": "bayesft_tune.search.runner", "load_trial_model": "bayesft_tune.search.results"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayesft_tune' has no attribute {name!r}")
