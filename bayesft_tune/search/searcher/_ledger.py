"""The Ax client and the searcher's record of its trials: :class:`AxLedger`.

The ledger owns both locks. Every client call holds ``ax_lock``; the bookkeeping has its
own short lock, ``state_lock``, taken after ``ax_lock`` and never while waiting for it.
Tune's events are recorded at once (``inbox``) and handed to Ax when the client is free
(:meth:`AxLedger.drain`): before each generation, save or ``best``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

__all__ = ["AxLedger", "Event"]

Event = tuple
"""``("abandon", index)`` or ``("done", trial_id, index, failure reason or None, raw data or None)``."""


class AxLedger:
    """The client (made on first use by ``make_client``) and what this searcher did with it.

    Attributes:
        live: Tune trial id -> Ax trial index, for the trials running now.
        index: every Tune trial id ever handed a candidate -> its Ax index.
        queue: ``(index, parameters, arrivals at generation)``: generated, not handed out.
        arms: Ax index -> parameters, every trial this searcher made.
        status: Ax index -> Ax status name, as this searcher set it.
        inbox: Tune events not yet handed to Ax (:data:`Event`).
        arrivals: completions reported by Tune so far.
        no_data_at: ``arrivals`` when Ax last wanted data before generating (None: never).
        version: bumped on every client change (the key of the pickled-client cache).
        failures: Tune trial id -> reason it failed.
        generation_seconds: wall seconds of every ``get_next_trials`` call.
        blocking_seconds: the seconds free slots waited for a candidate.
    """

    def __init__(self, make_client: Callable[[], Any], client: Any = None) -> None:
        self.make_client = make_client
        self.ax_lock, self.state_lock = threading.Lock(), threading.Lock()
        self._client = client
        self.live: dict[str, int] = {}
        self.index: dict[str, int] = {}
        self.queue: list[tuple[int, dict, int]] = []
        self.arms: dict[int, dict] = {}
        self.status: dict[int, str] = {}
        self.inbox: list[Event] = []
        self.arrivals = 0
        self.no_data_at: int | None = None
        self.version = 0
        self.failures: dict[str, str] = {}
        self.generation_seconds: list[float] = []
        self.blocking_seconds: list[float] = []

    @property
    def client(self) -> Any:
        """The ``ax.api.Client``; call it only holding ``ax_lock``."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    @property
    def has_client(self) -> bool:
        return self._client is not None

    def left(self, total_trials: int | None) -> float:
        """Trials still to hand out (inf without a total)."""
        return math.inf if total_trials is None else total_trials - len(self.index)

    def serve(self, trial_id: str, stale_limit: int | None) -> int | None:
        """Hand the queue's first fresh candidate to ``trial_id``; returns its Ax index.

        A candidate generated more than ``stale_limit`` completions ago is abandoned (None:
        no limit). Caller holds ``state_lock``."""
        while self.queue:
            index, _, generated_at = self.queue.pop(0)
            if stale_limit is not None and self.arrivals - generated_at > stale_limit:
                self.inbox.append(("abandon", index))
                continue
            self.live[trial_id] = self.index[trial_id] = index
            return index
        return None

    def record_done(self, trial_id: str, reason: str | None, raw: dict | None) -> bool:
        """Record a finished trial (``reason``: why it failed); False if never handed out here.
        Caller holds ``state_lock``."""
        index = self.live.pop(trial_id, self.index.get(trial_id))
        if index is None:
            return False
        if reason:
            self.failures[trial_id] = reason
        else:
            self.failures.pop(trial_id, None)
        self.inbox.append(("done", trial_id, index, reason, raw))
        self.arrivals += 1
        return True

    def generate(self, wanted: Callable[[], float], background: bool) -> bool:
        """One ``get_next_trials`` call for ``wanted()`` candidates (asked under ``state_lock``,
        after Tune's events reached Ax); they join the queue. Returns whether any came.
        Caller holds ``ax_lock``."""
        from ax.exceptions.core import DataRequiredError  # lazy: Ax loads after quiet_ax's warning filters

        self.drain()  # completions and discarded candidates reach Ax before it generates
        with self.state_lock:
            generated_at, want = self.arrivals, int(wanted())
        if want <= 0:
            return False
        started = time.perf_counter()
        try:
            batch = self.client.get_next_trials(max_trials=want)
        except DataRequiredError:  # Ax waits for initial data before fitting the GP
            batch = {}
            with self.state_lock:
                self.no_data_at = generated_at  # no prefetch retry before the next completion
        finally:
            seconds = time.perf_counter() - started
            with self.state_lock:
                self.generation_seconds.append(seconds)
                if not background:
                    self.blocking_seconds.append(seconds)
        self.version += 1
        with self.state_lock:
            for index, params in sorted(batch.items()):
                self.arms[index], self.status[index] = dict(params), "RUNNING"
                self.queue.append((index, dict(params), generated_at))
        return bool(batch)

    def drain(self) -> None:
        """Hand Tune's recorded events to Ax. Caller holds ``ax_lock``."""
        with self.state_lock:
            events, self.inbox = self.inbox, []
        for event in events:
            self._apply(event)
        if events:
            self.version += 1

    def _apply(self, event: Event) -> None:
        client = self.client
        if event[0] == "abandon":
            if self.status.get(event[1]) == "RUNNING":
                client.mark_trial_abandoned(event[1])
                self.status[event[1]] = "ABANDONED"
            return
        _, trial_id, index, reason, raw = event
        if reason:
            if self.status.get(index) == "RUNNING":
                client.mark_trial_failed(index, failed_reason=reason)
                self.status[index] = "FAILED"
            return
        if self.status.get(index) != "RUNNING":  # a failed trial that Tune resumed and finished
            params = dict(self.arms[index])
            index = client.attach_trial(params)
            with self.state_lock:
                self.index[trial_id], self.arms[index] = index, params
        client.complete_trial(index, raw_data=raw)
        self.status[index] = "COMPLETED"

    def best(self, metric: str) -> tuple[dict[str, float], float, int] | None:
        """Best *observed* trial ``(parameters, metric mean, Ax index)``, or None."""
        with self.ax_lock:
            self.drain()
            if "COMPLETED" not in self.status.values():
                return None
            params, values, index, _ = self.client.get_best_parameterization(use_model_predictions=False)
        return dict(params), float(values[metric][0]), int(index)
