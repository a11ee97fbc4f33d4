"""``AxSearcher``: a Ray Tune searcher over Ax's ``ax.api.Client`` (Ax >= 1.0).

Ray's own ``AxSearch`` wraps the deprecated ``AxClient`` and fails with Ax 1.3; this
one talks to ``ax.api.Client`` directly. It hands out jointly chosen batches (Ax knows
which trials are pending), passes each trial's Monte Carlo standard error to Ax as
its SEM, records failed and non-finite trials as failed, and saves/restores the
whole Ax state so a resumed search neither forgets nor repeats trials.

**Pre-generation** (``max_concurrent > 1``): while trials run, one worker thread computes
the next candidate with the running trials pending in Ax, so a slot that frees up takes a
ready candidate instead of waiting for the GP step; a candidate that missed more than
:data:`MAX_STALE` completions is abandoned and regenerated. The policy, its locks and the
timing lists (``generation_seconds``: every Ax generation; ``blocking_seconds``: those a
free slot waited for) are in :mod:`~bayesft_tune.search._pregen`; save/restore (never half
a generation; states saved before pre-generation upgraded) in
:mod:`~bayesft_tune.search._saved_state`. Options such as warm start and multi-objective
are composed :class:`SearchPart` s (``extensions.search_parts``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ray.tune.search import Searcher

from bayesft_tune.errors import UserInputError
from bayesft_tune.search._ax import Method, as_params, make_client
from bayesft_tune.search._pregen import MAX_STALE, TRIAL_INDEX_KEY, Pregeneration
from bayesft_tune.search._saved_state import SavedState
from bayesft_tune.tasks.space import Param, RangeParam

__all__ = ["AxSearcher", "MAX_STALE", "SearchPart", "TRIAL_INDEX_KEY"]


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


class AxSearcher(SavedState, Pregeneration, Searcher):
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
            the policy: :mod:`~bayesft_tune.search._pregen`).
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
                self._slot_waits()
                return None
            config = self._serve_now(trial_id)
            if config is None:
                return None
        self._slot_served()
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
