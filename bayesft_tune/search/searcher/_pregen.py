"""Pre-generation of the next candidate while trials run: :class:`Pregenerator`, the worker
thread and the staleness policy, held by :class:`~bayesft_tune.search.searcher.AxSearcher`;
the queue of generated candidates and the deferred Tune events are the
:class:`~bayesft_tune.search.searcher._ledger.AxLedger`'s.

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
* Every client call holds the ledger's ``ax_lock``; bookkeeping has its own short lock
  (``state_lock``, taken after the client lock, never while waiting for it).
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

import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable

import torch

from bayesft_tune.search.searcher._ledger import AxLedger

__all__ = ["MAX_STALE", "Pregenerator", "SLOTS_PER_EXTRA", "TRIAL_INDEX_KEY"]

TRIAL_INDEX_KEY = "ax_trial_index"
"""Config key under which each suggestion carries its Ax trial index."""

MAX_STALE = 1
"""A queued candidate is handed out only if at most this many completions arrived since its
generation started (the completion that freed the slot); else it is abandoned and regenerated.
Many slots raise it (:meth:`Pregenerator.stale_limit`): completions then come faster than GP steps."""
SLOTS_PER_EXTRA = 8
"""From 16 slots on, per this many slots: one more completion a queued candidate may miss, and
one more candidate kept queued (generated jointly, with the running trials pending). At up to
15 slots the policy is the one-ahead policy above, unchanged."""


class Pregenerator:
    """Generation ahead in one worker thread, for ``slots`` trials at once (on if ``enabled``
    and ``slots > 1``). Lives in one process: the searcher rebuilds it after unpickling."""

    def __init__(self, enabled: bool, slots: int) -> None:
        self.enabled, self.slots = enabled, slots
        self.executor: ThreadPoolExecutor | None = None
        self.future: Future | None = None
        self._wait_started: float | None = None  # when a free slot was first refused a candidate

    @property
    def on(self) -> bool:
        return self.enabled and self.slots > 1

    def stale_limit(self) -> int | None:
        """Completions a queued candidate may miss: :data:`MAX_STALE`, more with many slots
        (None when off: every queued candidate is fresh)."""
        return max(MAX_STALE, self.slots // SLOTS_PER_EXTRA - 1) if self.on else None

    def depth(self) -> int:
        """Candidates kept queued ahead (and generated per GP step): one, more with many slots."""
        return max(1, self.slots // SLOTS_PER_EXTRA - 1)

    def slot_waits(self) -> None:
        """A free slot was refused a candidate: the generation in flight is not done."""
        if self._wait_started is None:
            self._wait_started = time.perf_counter()

    def slot_served(self, ledger: AxLedger) -> None:
        """A free slot got its candidate; how long it waited counts as GP blocking a slot."""
        if self._wait_started is not None:
            with ledger.state_lock:
                ledger.blocking_seconds.append(time.perf_counter() - self._wait_started)
            self._wait_started = None

    def start(self, ledger: AxLedger, left: Callable[[], float]) -> None:
        """Compute the next candidates in the worker if a trial runs, the queue is short, trials
        are left (``left()``) and Ax has data it has not refused to generate from."""
        if not self.on:
            return
        with ledger.state_lock:
            busy = self.future is not None and not self.future.done()
            if (busy or not ledger.live or len(ledger.queue) >= self.depth() or left() <= 0
                    or ledger.no_data_at == ledger.arrivals):
                return
            if self.executor is None:
                self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ax-prefetch",
                                                   initializer=torch.set_num_threads, initargs=(1,))
            self.future = self.executor.submit(self._prefetch, ledger, left)

    def _prefetch(self, ledger: AxLedger, left: Callable[[], float]) -> None:
        with ledger.ax_lock:
            with ledger.state_lock:
                want = self.depth() - len(ledger.queue)
                if want <= 0 or left() <= 0:
                    return
            ledger.generate(lambda: min(want, left() - len(ledger.queue)), background=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a generation in flight (re-raising its error), at most ``timeout`` seconds
        (None: until it ends). Returns True when none is in flight any more."""
        future = self.future
        if future is None:
            return True
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            return False
        return True

    def check_worker(self) -> None:
        """Re-raise a finished worker's error in the calling (Tune's) thread."""
        future = self.future
        if future is not None and future.done():
            self.future = None
            future.result()

    def stop(self) -> None:
        """Wait for the worker (its error dropped: the state it worked on is being replaced) and end it."""
        try:
            self.wait()
        except Exception:  # noqa: BLE001 - the generation's error belongs to the replaced state
            pass
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None
        self.future = None
