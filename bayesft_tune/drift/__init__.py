"""Weight-drift models of analog (ReRAM) hardware, one registry (:data:`DRIFTS`).

Every model splits a draw into σ-independent noise (:meth:`DriftModel.draw`) and a
map to drifted weights (:meth:`DriftModel.apply`); every registered model passes the
contract suites in ``tests/test_drift_contract.py`` and ``tests/test_registry_contracts.py``.
"""

from __future__ import annotations

from bayesft_tune.drift._base import (
    DRIFTS,
    DriftModel,
    ParamFilter,
    check_sigma,
    drift_names,
    get_drift,
    select_parameters,
)
from bayesft_tune.drift._gaussian import GaussianDrift
from bayesft_tune.drift._lognormal import LogNormalDrift
from bayesft_tune.drift._stuck_at import StuckAtDrift

DRIFTS.register(GaussianDrift.name, GaussianDrift)
DRIFTS.register(LogNormalDrift.name, LogNormalDrift)
DRIFTS.register(StuckAtDrift.name, StuckAtDrift)

__all__ = [
    "DRIFTS",
    "DriftModel",
    "GaussianDrift",
    "LogNormalDrift",
    "ParamFilter",
    "StuckAtDrift",
    "check_sigma",
    "drift_names",
    "get_drift",
    "select_parameters",
]
