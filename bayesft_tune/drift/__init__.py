"""Weight-drift models of analog (ReRAM) hardware, one registry (:data:`DRIFTS`).

``lognormal``, ``gaussian`` (a strength σ), ``stuck_at`` (a fault fraction p), and the
device models ``pcm`` and ``reram_wan2022`` (time since programming, seconds).
Every model splits a draw into level-independent noise (:meth:`DriftModel.draw`) and a
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
    drift_spec,
    get_drift,
    select_parameters,
)
from bayesft_tune.drift._device import PCMDrift, ReRAMWan2022Drift
from bayesft_tune.drift._gaussian import GaussianDrift
from bayesft_tune.drift._lognormal import LogNormalDrift
from bayesft_tune.drift._stuck_at import StuckAtDrift

DRIFTS.register(GaussianDrift.name, GaussianDrift)
DRIFTS.register(LogNormalDrift.name, LogNormalDrift)
DRIFTS.register(StuckAtDrift.name, StuckAtDrift)
DRIFTS.register(PCMDrift.name, PCMDrift)
DRIFTS.register(ReRAMWan2022Drift.name, ReRAMWan2022Drift)

__all__ = [
    "DRIFTS",
    "DriftModel",
    "GaussianDrift",
    "LogNormalDrift",
    "PCMDrift",
    "ParamFilter",
    "ReRAMWan2022Drift",
    "StuckAtDrift",
    "check_sigma",
    "drift_names",
    "drift_spec",
    "get_drift",
    "select_parameters",
]
