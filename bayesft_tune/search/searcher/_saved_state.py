"""The searcher's saved state: one flat dict of its settings and its ledger, the Ax client
pickled. The format is the one every earlier version wrote, so their states still load.

The state is taken under the client lock, so it is never half a generation: a generation in
flight is waited for (at most one GP step, only when a save coincides with one) and its
candidate is saved queued, handed out after a resume. Threads and locks are not saved. The
client's pickled bytes are cached until the client changes (one pickle per change, ~20-35 ms
at 30 trials). ``cloudpickle`` writes them (a fitted model with outcome constraints holds
local functions, which plain pickle refuses); ``pickle.loads`` reads them back.
"""

from __future__ import annotations

from typing import Any, Sequence

from ray import cloudpickle

from bayesft_tune.search.searcher._ledger import AxLedger
from bayesft_tune.tasks.space import Param

__all__ = ["LEDGER_KEYS", "ledger_from_state", "ledger_state"]

LEDGER_KEYS = {"_live": "live", "_index": "index", "_queue": "queue", "_arms": "arms", "_status": "status",
               "_inbox": "inbox", "_arrivals": "arrivals", "_no_data_at": "no_data_at", "_version": "version",
               "failures": "failures", "generation_seconds": "generation_seconds",
               "blocking_seconds": "blocking_seconds"}
"""Saved-state key -> :class:`AxLedger` attribute (the keys are the format's, kept for old states)."""


def ledger_state(ledger: AxLedger, cache: tuple[int, bytes] | None) -> tuple[dict, tuple[int, bytes] | None]:
    """The ledger's part of the saved state, and the pickled-client cache to keep.

    Caller holds ``ax_lock`` (Tune's events are drained first: nothing is left in the inbox)."""
    ledger.drain()
    with ledger.state_lock:
        state = {key: _copy(getattr(ledger, attr)) for key, attr in LEDGER_KEYS.items()}
    if not ledger.has_client:
        return {**state, "_client_bytes": None}, cache
    if cache is None or cache[0] != ledger.version:
        cache = (ledger.version, cloudpickle.dumps(ledger.client))
    return {**state, "_client_bytes": cache[1]}, cache


def ledger_from_state(state: dict, make_client, parameters: Sequence[Param]) -> AxLedger:
    """Rebuild a ledger from a saved state (``_client_bytes`` already unpickled as ``_client``)."""
    ledger = AxLedger(make_client, state.get("_client"))
    if "_arms" not in state:  # a state saved before pre-generation
        _upgrade(ledger, state, parameters)
        return ledger
    for key, attr in LEDGER_KEYS.items():
        if key in state:
            setattr(ledger, attr, _copy(state[key]))
    return ledger


def _upgrade(ledger: AxLedger, state: dict, parameters: Sequence[Param]) -> None:
    ledger.live, ledger.index = dict(state.get("_live", {})), dict(state.get("_index", {}))
    ledger.failures = dict(state.get("failures", {}))
    ledger.queue = [(index, params, 0) for index, params, *_ in state.get("_queue", [])]
    ledger.generation_seconds = list(state.get("generation_seconds", []))
    ledger.blocking_seconds = list(ledger.generation_seconds)  # every generation blocked then
    if ledger.has_client:
        summary = ledger.client.summarize()
        for row in summary.to_dict("records") if "trial_index" in summary else []:
            index = int(row["trial_index"])
            ledger.arms[index] = {p.name: _plain(row[p.name]) for p in parameters}
            ledger.status[index] = str(row["trial_status"]).upper()


def _copy(value: Any) -> Any:
    return type(value)(value) if isinstance(value, (dict, list)) else value


def _plain(value: Any) -> Any:
    """A Python scalar from a pandas/numpy one."""
    return value.item() if hasattr(value, "item") else value
