"""Pre-generation of the next candidate while trials run: the worker thread, the queue of
generated candidates, the staleness policy and the Tune events deferred while the client is
busy. A mixin of :class:`~bayesft_tune.search.searcher.AxSearcher` (its attributes are set
there: ``_live``, ``_index``, ``_queue``, ``_arms``, ``_status``, ``_inbox``, ``_arrivals``,
``_no_data_at``, ``_version``, ``generation_seconds``, ``blocking_seconds``).

The policy (``max_concurrent > 1`` and ``prefetch``):

* At most one candidate is computed ahead, and only while a trial runs. Ax attaches a
  generated trial at once (``get_next_trials`` marks it RUNNING: it is pending for later
  candidates too); the searcher queues it and hands it out to the next free slot.
* Staleness: a queued candidate is handed out only if at most :data:`MAX_STALE` (one)
  completions were reported since its generation started (those reported during the GP
  step count: the model did not see them). One is the normal case: the completion that
  freed the slot. Else it is discarded (``mark_trial_abandoned``: an ABANDONED Ax trial no
  Tune trial ran, so Ax trial indices of Tune trials may skip it) and a fresh one computed.
* A queued candidate is handed out only while Tune asks for trials: with ``num_samples``
  known (always in the runner) none is generated beyond it; without, the last one stays
  RUNNING in Ax, unused.
* The Tune thread never waits for a GP step while a trial runs: ``suggest`` returns None
  (Tune asks again within 0.1 s) until the candidate is ready, and ``on_trial_complete``
  records the result and hands it to Ax when the client is free (at once if no
  generation is in flight; else before the next generation, save or ``best``).
  With nothing running (the first batch, or every trial at ``max_concurrent=1``) it
  generates in the Tune thread; at ``max_concurrent=1`` (or ``prefetch=False``) nothing
  is computed ahead.
* Every client call holds one lock (``_ax_lock``); bookkeeping has its own short lock
  (``_state``, taken after the client lock, never while waiting for it).
* The GP steps that overlap running trials use one torch thread (the setting is the
  process's: the driver runs no other torch work while trials run). The trials hold the
  cores; a second OpenMP thread of the GP, preempted by a trial, kept the first waiting at
  every parallel region (GP total of the default search with its trials at nice 0: 30-31 s
  on two threads, 23-26 s on one).
* ``generation_seconds``: every Ax generation; ``blocking_seconds``: the time free slots
  waited for the GP: the generations made in Tune's thread, and from a free slot's first
  refusal (a generation in flight) to its candidate.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import torch

TRIAL_INDEX_KEY = "ax_trial_index"
"""Config key under which each suggestion carries its Ax trial index."""

MAX_STALE = 1
"""A queued candidate is handed out only if at most this many completions arrived since its
generation started (the completion that freed the slot); else it is abandoned and regenerated.
Many slots raise it (:meth:`Pregeneration._stale_limit`): completions then come faster than GP steps."""
SLOTS_PER_EXTRA = 8
"""From 16 slots on, per this many slots: one more completion a queued candidate may miss, and
one more candidate kept queued (generated jointly, with the running trials pending). At up to
15 slots the policy is the one-ahead policy above, unchanged."""

RUNTIME = ("_ax_lock", "_state", "_executor", "_future", "_wait_started")
"""Attributes that live only in this process (locks, worker thread): never pickled."""


class Pregeneration:
    """The searcher's generation: in Tune's thread, or ahead in one worker thread."""

    def _new_runtime(self) -> None:
        self._ax_lock = threading.Lock()   # every client call
        self._state = threading.Lock()     # bookkeeping; taken after _ax_lock, never while waiting for it
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future | None = None
        self._wait_started: float | None = None  # when a free slot was first refused a candidate

    def _slot_waits(self) -> None:
        """A free slot was refused a candidate: the generation in flight is not done."""
        if self._wait_started is None:
            self._wait_started = time.perf_counter()

    def _slot_served(self) -> None:
        """A free slot got its candidate; how long it waited counts as GP blocking a slot."""
        if self._wait_started is not None:
            with self._state:
                self.blocking_seconds.append(time.perf_counter() - self._wait_started)
            self._wait_started = None

    def _stale_limit(self) -> int:
        """Completions a queued candidate may miss: :data:`MAX_STALE`, more with many slots."""
        return max(MAX_STALE, self.max_concurrent // SLOTS_PER_EXTRA - 1)

    def _depth(self) -> int:
        """Candidates kept queued ahead (and generated per GP step): one, more with many slots."""
        return max(1, self.max_concurrent // SLOTS_PER_EXTRA - 1)

    def _left(self) -> float:
        return math.inf if self.total_trials is None else self.total_trials - len(self._index)

    def _serve(self, trial_id: str) -> dict | None:
        """Hand out the queue's first fresh candidate (caller holds ``_state``)."""
        while self._queue:
            index, params, generated_at = self._queue.pop(0)
            if self._prefetching and self._arrivals - generated_at > self._stale_limit():
                self._inbox.append(("abandon", index))
                continue
            self._live[trial_id] = self._index[trial_id] = index
            return {**params, TRIAL_INDEX_KEY: index}
        return None

    def _serve_now(self, trial_id: str) -> dict | None:
        """Generate in this thread (nothing runs, or pre-generation is off), after any
        generation in flight, unless that one's candidate is fresh."""
        self.wait()
        with self._ax_lock:
            with self._state:
                config = self._serve(trial_id)
            if config is None and self._generate(background=False):
                with self._state:
                    config = self._serve(trial_id)
        return config

    @property
    def _prefetching(self) -> bool:
        return self.prefetch and self.max_concurrent > 1

    def _start_prefetch(self) -> None:
        if not self._prefetching:
            return
        with self._state:
            busy = self._future is not None and not self._future.done()
            if (busy or not self._live or len(self._queue) >= self._depth() or self._left() <= 0
                    or self._no_data_at == self._arrivals):
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ax-prefetch",
                                                    initializer=torch.set_num_threads, initargs=(1,))
            self._future = self._executor.submit(self._prefetch)

    def _prefetch(self) -> None:
        with self._ax_lock:
            with self._state:
                want = self._depth() - len(self._queue)
                if want <= 0 or self._left() <= 0:
                    return
            self._generate(background=True, want=want)

    def _generate(self, background: bool, want: int | None = None) -> bool:
        """One ``get_next_trials`` call; its trials join the queue (caller holds ``_ax_lock``)."""
        from ax.exceptions.core import DataRequiredError  # lazy: Ax loads after quiet_ax's warning filters

        self._drain()  # completions and discarded candidates reach Ax before it generates
        with self._state:
            generated_at = self._arrivals
            if want is None:
                want = self.max_concurrent - len(self._live)
            want = int(min(want, self._left() - len(self._queue)))
        if want <= 0:
            return False
        started = time.perf_counter()
        try:
            batch = self.client.get_next_trials(max_trials=want)
        except DataRequiredError:  # Ax waits for initial data before fitting the GP
            batch = {}
            with self._state:
                self._no_data_at = generated_at  # no prefetch retry before the next completion
        finally:
            seconds = time.perf_counter() - started
            with self._state:
                self.generation_seconds.append(seconds)
                if not background:
                    self.blocking_seconds.append(seconds)
        self._version += 1
        with self._state:
            for index, params in sorted(batch.items()):
                self._arms[index], self._status[index] = dict(params), "RUNNING"
                self._queue.append((index, dict(params), generated_at))
        return bool(batch)

    def _drain(self) -> None:
        """Hand Tune's recorded events to Ax (caller holds ``_ax_lock``)."""
        with self._state:
            events, self._inbox = self._inbox, []
        for event in events:
            self._apply(event)
        if events:
            self._version += 1

    def _apply(self, event: tuple) -> None:
        client = self.client
        if event[0] == "abandon":
            index = event[1]
            if self._status.get(index) == "RUNNING":
                client.mark_trial_abandoned(index)
                self._status[index] = "ABANDONED"
            return
        _, trial_id, index, reason, raw = event
        if reason:
            if self._status.get(index) == "RUNNING":
                client.mark_trial_failed(index, failed_reason=reason)
                self._status[index] = "FAILED"
            return
        if self._status.get(index) != "RUNNING":  # a failed trial that Tune resumed and finished
            params = dict(self._arms[index])
            index = client.attach_trial(params)
            with self._state:
                self._index[trial_id], self._arms[index] = index, params
        client.complete_trial(index, raw_data=raw)
        self._status[index] = "COMPLETED"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a generation in flight (re-raising its error), at most ``timeout`` seconds
        (None: until it ends). Returns True when none is in flight any more."""
        future = self._future
        if future is None:
            return True
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            return False
        return True

    def _check_worker(self) -> None:
        future = self._future
        if future is not None and future.done():
            self._future = None
            future.result()  # an error of the worker surfaces in Tune's thread
