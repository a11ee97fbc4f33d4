"""``AxSearcher``: a Ray Tune searcher over Ax's ``ax.api.Client`` (Ax >= 1.0).

Ray's own ``AxSearch`` wraps the deprecated ``AxClient`` and fails with Ax 1.3; this
one talks to ``ax.api.Client`` directly. It hands out jointly chosen batches (Ax knows
which trials are pending), passes each trial's Monte Carlo standard error to Ax as
its SEM, records failed and non-finite trials as failed, and saves/restores the
whole Ax state so a resumed search neither forgets nor repeats trials.

**Pre-generation** (``max_concurrent > 1``): while trials run, one worker thread computes
the next candidate with the running trials pending in Ax, so a slot that frees up takes a
ready candidate instead of waiting for the GP step. The policy:

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
  generates in the Tune thread as before; at ``max_concurrent=1`` (or ``prefetch=False``)
  nothing changes.
* Every client call holds one lock; bookkeeping has its own short lock (taken after the
  client lock, never while waiting for it).
* Save/restore: the saved state is taken under the client lock, so it is never half a
  generation: a generation in flight is waited for (at most one GP step, only when a
  save coincides with one) and its candidate is saved queued, handed out after a resume.
  The thread, its future and the locks are not pickled. The client's pickled bytes are
  cached until the client changes (one pickle per change, ~20-35 ms at 30 trials).
* ``generation_seconds``: every Ax generation; ``blocking_seconds``: those made in Tune's
  thread (a free slot waited for them).
"""

from __future__ import annotations

import contextlib
import math
import pickle
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Sequence

from ray import cloudpickle
from ray.tune.search import Searcher

from bayesft_tune.errors import UserInputError
from bayesft_tune.search._ax import Method, as_params, make_client
from bayesft_tune.tasks.space import Param, RangeParam

__all__ = ["AxSearcher", "MAX_STALE", "SearchPart", "TRIAL_INDEX_KEY"]

TRIAL_INDEX_KEY = "ax_trial_index"
"""Config key under which each suggestion carries its Ax trial index."""

MAX_STALE = 1
"""A queued candidate is handed out only if at most this many completions arrived since its
generation started (the completion that freed the slot); else it is abandoned and regenerated."""

_RUNTIME = ("_ax_lock", "_state", "_executor", "_future")
"""Attributes that live only in this process (locks, worker thread): never pickled."""


class SearchPart:
    """A composable searcher option (warm start, multi-objective: see ``extensions``).

    Every hook defaults to "no change"; :class:`AxSearcher` calls them in order.
    """

    def objective(self, searcher: "AxSearcher") -> tuple[str, bool, list[str]] | None:
        """``(Ax objective text, minimise, outcome constraints)`` of the client, or None
        to keep the searcher's single objective. At most one part may set it."""
        return None

    def raw_data(self, result: dict, data: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        """The ``(mean, SEM)`` per metric handed to Ax for a completed trial."""
        return data

    def config(self, config: dict) -> dict:
        """The config handed to Tune for a trial."""
        return config


class AxSearcher(Searcher):
    """Gaussian-process Bayesian optimisation of a noisy metric with Ax.

    Args:
        parameters: typed range/choice parameters, or a mapping name -> ``(low, high)``.
        metric: objective reported by the trainable (e.g. ``"drifted_loss"``).
        mode: ``"min"`` or ``"max"``.
        sem_metric: reported standard error of ``metric`` (passed to Ax as SEM);
            default ``metric + "_sem"``.
        outcome_constraints: Ax constraint strings on other reported metrics, e.g.
            ``["clean_accuracy >= 0.9"]`` (each metric's ``_sem`` is used if reported).
        max_concurrent: trials running at once; also the batch size asked of Ax.
        seed: seeds Ax (``Client(random_seed=seed)``) and its Sobol initialisation.
        method: ``"bo"`` or ``"random"`` (same plumbing, for baselines).
        initialization_budget: Sobol trials before the GP takes over (None: Ax's 5).
        torch_device: where Ax fits the GP (None: CPU).
        parts: composed options (:class:`SearchPart`), e.g. warm start, multi-objective.
        prefetch: compute the next candidate while trials run (only at ``max_concurrent > 1``;
            see the module docstring).
    """

    def __init__(self, parameters: Sequence[Param] | dict[str, tuple[float, float]], metric: str = "drifted_loss",
                 mode: str = "min", sem_metric: str | None = None,
                 outcome_constraints: Sequence[str] = (), max_concurrent: int = 1, seed: int = 0,
                 method: Method = "bo", initialization_budget: int | None = None,
                 torch_device: str | None = None, parts: Sequence[SearchPart] = (),
                 prefetch: bool = True) -> None:
        if mode not in ("min", "max"):
            raise UserInputError(f"mode must be 'min' or 'max'; got {mode!r}.")
        if int(max_concurrent) < 1:
            raise UserInputError(f"max_concurrent must be >= 1; got {max_concurrent!r}.")
        params = as_params(parameters)
        for p in params:
            if isinstance(p, RangeParam) and not p.low < p.high:
                raise UserInputError(f"bounds of {p.name!r} must satisfy low < high; got ({p.low}, {p.high}).")
        super().__init__(metric=metric, mode=mode)
        self.parameters = params
        self.sem_metric = sem_metric or f"{metric}_sem"
        self.outcome_constraints = list(outcome_constraints)
        self.max_concurrent, self.seed, self.method = int(max_concurrent), int(seed), method
        self.initialization_budget, self.torch_device = initialization_budget, torch_device
        self.parts, self.prefetch = list(parts), bool(prefetch)
        if sum(type(p).objective is not SearchPart.objective for p in self.parts) > 1:
            raise UserInputError("at most one searcher part may set the Ax objective.")
        self.total_trials: int | None = None
        self._client: Any = None
        self._live: dict[str, int] = {}        # Tune trial id -> Ax trial index (running)
        self._index: dict[str, int] = {}       # every Tune trial id ever suggested -> Ax index
        self._queue: list[tuple[int, dict, int]] = []  # (index, params, arrivals at generation): not handed out
        self._arms: dict[int, dict] = {}       # Ax index -> parameters (every trial this searcher made)
        self._status: dict[int, str] = {}      # Ax index -> Ax status name, as this searcher set it
        self._inbox: list[tuple] = []          # Tune events not yet handed to Ax (client busy)
        self._arrivals = 0                     # completions reported by Tune so far
        self._no_data_at: int | None = None    # arrivals when Ax last wanted data first
        self._version = 0                      # bumped on every client change (pickle cache key)
        self.failures: dict[str, str] = {}     # Tune trial id -> reason
        self.generation_seconds: list[float] = []  # wall time of each Ax get_next_trials call
        self.blocking_seconds: list[float] = []    # ... of those made in Tune's thread (a slot waited)
        self._new_runtime()

    def _new_runtime(self) -> None:
        self._ax_lock = threading.Lock()   # every client call
        self._state = threading.Lock()     # bookkeeping; taken after _ax_lock, never while waiting for it
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future | None = None

    # ---- Ax client ---------------------------------------------------------------
    @property
    def client(self):
        """The ``ax.api.Client`` (created on first use). Outside the searcher's own calls,
        use it only when no generation is in flight (:meth:`wait`)."""
        if self._client is None:
            objective, minimize, constraints = self.metric, self.mode == "min", list(self.outcome_constraints)
            for part in self.parts:
                spec = part.objective(self)
                if spec is not None:
                    objective, minimize, constraints = spec
            self._client = make_client(self.parameters, objective, minimize, constraints, self.seed,
                                       self.method, self.initialization_budget, self.torch_device)
        return self._client

    # ---- Tune hooks ----------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:
        """Tune passes ``num_samples``: batches never exceed the trials left to run."""
        if metric and metric != self.metric or mode and mode != self.mode:
            raise UserInputError(f"AxSearcher optimises {self.mode} {self.metric!r}; Tune asked for "
                                 f"{mode} {metric!r}. Pass the same metric/mode to both.")
        if spec.get("num_samples"):
            self.total_trials = int(spec["num_samples"])
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Concurrency is handled here (Tune's ConcurrencyLimiter would drop resumed trials)."""
        self.max_concurrent = max(1, int(max_concurrent))
        return True

    def suggest(self, trial_id: str) -> dict | None:
        """Next dropout vector, or None while ``max_concurrent`` trials run, while the next
        candidate is being computed with trials running, or while Ax needs data."""
        self._check_worker()
        with self._state:
            if trial_id in self._live:
                index = self._live[trial_id]
                return self._decorate({**self._arms[index], TRIAL_INDEX_KEY: index})
            if len(self._live) >= self.max_concurrent or self._left() <= 0:
                return None
            running = bool(self._live)
            config = self._serve(trial_id)
        if config is None:
            if running and self._prefetching:  # no GP step in Tune's thread while others train
                self._start_prefetch()
                return None
            config = self._serve_now(trial_id)
            if config is None:
                return None
        self._start_prefetch()
        return self._decorate(config)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        """Give Ax the trial's final (mean, SEM); errors and NaN/inf become failures."""
        with self._state:
            index = self._live.pop(trial_id, self._index.get(trial_id))
            if index is None:  # a trial this searcher never suggested
                return
            reason = self._failure_reason(result, error)
            if reason:
                self.failures[trial_id] = reason
            else:
                self.failures.pop(trial_id, None)
            self._inbox.append(("done", trial_id, index, reason, None if reason else self._raw_data(result)))
            self._arrivals += 1
        if self._ax_lock.acquire(blocking=False):  # else the generation in flight hands it over
            try:
                self._drain()
            finally:
                self._ax_lock.release()

    # ---- generation ------------------------------------------------------------------
    def _left(self) -> float:
        return math.inf if self.total_trials is None else self.total_trials - len(self._index)

    def _serve(self, trial_id: str) -> dict | None:
        """Hand out the queue's first fresh candidate (caller holds ``_state``)."""
        while self._queue:
            index, params, generated_at = self._queue.pop(0)
            if self._prefetching and self._arrivals - generated_at > MAX_STALE:
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
            if (busy or not self._live or self._queue or self._left() <= 0
                    or self._no_data_at == self._arrivals):
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ax-prefetch")
            self._future = self._executor.submit(self._prefetch)

    def _prefetch(self) -> None:
        with self._ax_lock:
            with self._state:
                if self._queue or self._left() <= 0:
                    return
            self._generate(background=True, want=1)

    def _generate(self, background: bool, want: int | None = None) -> bool:
        """One ``get_next_trials`` call; its trials join the queue (caller holds ``_ax_lock``)."""
        from ax.exceptions.core import DataRequiredError

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

    def wait(self) -> None:
        """Wait for a generation in flight (re-raising its error)."""
        future = self._future
        if future is not None:
            future.result()

    def _check_worker(self) -> None:
        future = self._future
        if future is not None and future.done():
            self._future = None
            future.result()  # an error of the worker surfaces in Tune's thread

    # ---- results ------------------------------------------------------------------------
    def _decorate(self, config: dict) -> dict:
        for part in self.parts:
            config = part.config(config)
        return config

    def _failure_reason(self, result: dict | None, error: bool) -> str | None:
        if error:
            return "trial raised an error"
        if not result or self.metric not in result:
            return f"trial reported no {self.metric!r}"
        values = [result.get(k) for k in (self.metric, self.sem_metric) if k in result]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            return f"non-finite result: {self.metric}={result.get(self.metric)!r}"
        return None

    def _raw_data(self, result: dict) -> dict[str, tuple[float, float]]:
        names = [self.metric, *(c.replace(">=", " ").replace("<=", " ").split()[0]
                                for c in self.outcome_constraints)]
        data = {}
        for name in names:
            if name in result:
                sem = result.get(f"{name}_sem", 0.0)
                data[name] = (float(result[name]), float(sem) if math.isfinite(sem) else 0.0)
        for part in self.parts:
            data = part.raw_data(result, data)
        return data

    def best(self) -> tuple[dict[str, float], float, int] | None:
        """Best *observed* trial ``(parameters, metric mean, Ax trial index)``, or None."""
        with self._ax_lock:
            self._drain()
            if "COMPLETED" not in self._status.values():
                return None
            params, values, index, _ = self.client.get_best_parameterization(use_model_predictions=False)
        return dict(params), float(values[self.metric][0]), int(index)

    # ---- state ------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        """Searcher state with the Ax client pickled (60x faster than Ax's JSON here), taken
        under the client lock (a generation in flight is waited for, never half saved);
        the bytes are cached until the client changes. ``cloudpickle``: a fitted model with
        outcome constraints holds local functions, which plain pickle refuses;
        ``pickle.loads`` reads the bytes back."""
        with self._ax_lock:
            self._drain()
            with self._state:
                state = {k: v for k, v in self.__dict__.items() if k not in _RUNTIME}
                state["_live"], state["_index"] = dict(self._live), dict(self._index)
                state["_queue"], state["_arms"] = list(self._queue), dict(self._arms)
                state["_status"], state["failures"] = dict(self._status), dict(self.failures)
                state["generation_seconds"] = list(self.generation_seconds)
                state["blocking_seconds"] = list(self.blocking_seconds)
            client = state.pop("_client")
            state.pop("_pickle_cache", None)
            if client is None:
                state["_client_bytes"] = None
            else:
                cache = self.__dict__.get("_pickle_cache")
                if cache is None or cache[0] != self._version:
                    cache = (self._version, cloudpickle.dumps(client))  # closures in fitted constraint transforms
                    self._pickle_cache = cache
                state["_client_bytes"] = cache[1]
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        blob = state.pop("_client_bytes", None)
        self.__dict__.update(state)
        self._new_runtime()
        self._client = pickle.loads(blob) if blob is not None else None
        if "_arms" not in state:  # a state saved before pre-generation
            self._upgrade_state()
        if blob is not None:
            self._pickle_cache = (self._version, blob)

    def _upgrade_state(self) -> None:
        self.__dict__.setdefault("parts", [])
        self.__dict__.setdefault("prefetch", True)
        self._queue = [(index, params, 0) for index, params, *_ in self._queue]
        self._arms, self._status, self._inbox = {}, {}, []
        self._arrivals, self._no_data_at, self._version = 0, None, 0
        self.blocking_seconds = list(self.__dict__.get("generation_seconds", []))
        if self._client is not None:
            summary = self._client.summarize()
            for row in summary.to_dict("records") if "trial_index" in summary else []:
                index = int(row["trial_index"])
                self._arms[index] = {p.name: _plain(row[p.name]) for p in self.parameters}
                self._status[index] = str(row["trial_status"]).upper()

    def save(self, checkpoint_path: str) -> None:
        """Pickle the searcher, Ax client included."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Load what :meth:`save` wrote; running trials stay pending in Ax."""
        with contextlib.suppress(Exception):  # the state being replaced may hold a worker's error
            self.wait()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        with open(checkpoint_path, "rb") as f:
            self.__setstate__(pickle.load(f))


def _plain(value: Any) -> Any:
    """A Python scalar from a pandas/numpy one."""
    return value.item() if hasattr(value, "item") else value
