"""Weight-drift models of analog (ReRAM) hardware, one registry.

Every model splits a draw into σ-independent noise (:meth:`DriftModel.draw`) and a
map to drifted weights (:meth:`DriftModel.apply`); all pass the contract suite in
``tests/test_drift_contract.py``.
"""

from __future__ import annotations

from bayesft_tune.drift._base import (
    DriftModel,
    ParamFilter,
    check_sigma,
    drift_names,
    get_drift,
    register_drift,
    select_parameters,
)
from bayesft_tune.drift._gaussian import GaussianDrift
from bayesft_tune.drift._lognormal import LogNormalDrift
from bayesft_tune.drift._stuck_at import StuckAtDrift

__all__ = [
    "DriftModel",
    "GaussianDrift",
    "LogNormalDrift",
    "ParamFilter",
    "StuckAtDrift",
    "check_sigma",
    "drift_names",
    "get_drift",
    "register_drift",
    "select_parameters",
]
