"""The searcher: :class:`AxSearcher` (Tune's hooks over a held :class:`AxLedger` and
:class:`Pregenerator`) and :class:`SearchPart`, the hooks of a composed option."""

from __future__ import annotations

import math
import pickle
from typing import Any, Sequence

from ray.tune.search import Searcher

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.searcher._ax import Method, as_params, make_client, quiet_ax
from bayesft_tune.search.searcher._ledger import AxLedger
from bayesft_tune.search.searcher._pregen import TRIAL_INDEX_KEY, Pregenerator
from bayesft_tune.search.searcher._saved_state import LEDGER_KEYS, ledger_from_state, ledger_state
from bayesft_tune.tasks.space import Param, RangeParam

__all__ = ["AxSearcher", "SearchPart"]

HELD = ("ledger", "pregen", "_pickle_cache")
"""Attributes saved through :mod:`._saved_state` (the ledger) or not at all (this process only)."""


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
            the policy: :mod:`~bayesft_tune.search.searcher._pregen`).
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
        self.ledger = AxLedger(self._new_client)
        self.pregen = Pregenerator(self.prefetch, self.max_concurrent)
        self._pickle_cache: tuple[int, bytes] | None = None

    # ---- Ax client ---------------------------------------------------------------
    @property
    def client(self):
        """The ``ax.api.Client`` (created on first use). Outside the searcher's own calls,
        use it only when no generation is in flight (:meth:`wait`)."""
        return self.ledger.client

    @property
    def failures(self) -> dict[str, str]:
        """Tune trial id -> why it failed."""
        return self.ledger.failures

    @property
    def generation_seconds(self) -> list[float]:
        """Wall seconds of every Ax generation."""
        return self.ledger.generation_seconds

    @property
    def blocking_seconds(self) -> list[float]:
        """The seconds free slots waited for a candidate."""
        return self.ledger.blocking_seconds

    def _new_client(self):
        objective, minimize, constraints = self.metric, self.mode == "min", list(self.outcome_constraints)
        for part in self.parts:
            spec = part.objective(self)
            if spec is not None:
                objective, minimize, constraints = spec
        return make_client(self.parameters, objective, minimize, constraints, self.seed,
                           self.method, self.initialization_budget, self.torch_device)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a generation in flight, at most ``timeout`` seconds (None: until it ends);
        re-raises its error. Returns True when none is in flight any more."""
        return self.pregen.wait(timeout)

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
        self.max_concurrent = self.pregen.slots = max(1, int(max_concurrent))
        return True

    def suggest(self, trial_id: str) -> dict | None:
        """Next dropout vector, or None while ``max_concurrent`` trials run, while the next
        candidate is being computed with trials running, or while Ax needs data."""
        ledger, pregen = self.ledger, self.pregen
        pregen.check_worker()
        with ledger.state_lock:
            if trial_id in ledger.live:
                return self._config(ledger.live[trial_id])
            if len(ledger.live) >= self.max_concurrent or self._left() <= 0:
                return None
            running = bool(ledger.live)
            index = ledger.serve(trial_id, pregen.stale_limit())
        if index is None:
            if running and pregen.on:  # no GP step in Tune's thread while others train
                pregen.start(ledger, self._left)
                pregen.slot_waits()
                return None
            index = self._serve_now(trial_id)
            if index is None:
                return None
        pregen.slot_served(ledger)
        pregen.start(ledger, self._left)
        return self._config(index)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        """Give Ax the trial's final (mean, SEM); errors and NaN/inf become failures."""
        ledger = self.ledger
        reason = self._failure_reason(result, error)
        with ledger.state_lock:
            known = ledger.record_done(trial_id, reason, None if reason else self._raw_data(result))
        if known and ledger.ax_lock.acquire(blocking=False):  # else the generation in flight hands it over
            try:
                ledger.drain()
            finally:
                ledger.ax_lock.release()

    def _left(self) -> float:
        return self.ledger.left(self.total_trials)

    def _serve_now(self, trial_id: str) -> int | None:
        """Generate in this thread (nothing runs, or pre-generation is off), after any
        generation in flight, unless that one's candidate is fresh."""
        ledger = self.ledger
        self.wait()
        with ledger.ax_lock:
            with ledger.state_lock:
                index = ledger.serve(trial_id, self.pregen.stale_limit())
            wanted = lambda: min(self.max_concurrent - len(ledger.live), self._left() - len(ledger.queue))  # noqa: E731
            if index is None and ledger.generate(wanted, background=False):
                with ledger.state_lock:
                    index = ledger.serve(trial_id, self.pregen.stale_limit())
        return index

    # ---- results ------------------------------------------------------------------------
    def _config(self, index: int) -> dict:
        """Tune's config of Ax trial ``index``: its parameters and index, as the parts decorate it."""
        config = {**self.ledger.arms[index], TRIAL_INDEX_KEY: index}
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
        return self.ledger.best(self.metric)

    # ---- saved state ----------------------------------------------------------------------
    def __getstate__(self) -> dict:
        """Settings and ledger (:mod:`._saved_state`), taken under the client lock: a generation
        in flight is waited for, never half saved."""
        with self.ledger.ax_lock:
            ledger, self._pickle_cache = ledger_state(self.ledger, self.__dict__.get("_pickle_cache"))
        return {**{k: v for k, v in self.__dict__.items() if k not in HELD}, **ledger}

    def __setstate__(self, state: dict) -> None:
        quiet_ax()  # unpickling the client imports Ax; a resumed driver must stay as quiet as a new one
        state = dict(state)
        blob = state.pop("_client_bytes", None)
        settings = {k: v for k, v in state.items() if k not in LEDGER_KEYS}
        settings.setdefault("parts", [])
        settings.setdefault("prefetch", True)
        self.__dict__.update(settings)
        state["_client"] = pickle.loads(blob) if blob is not None else None
        self.ledger = ledger_from_state(state, self._new_client, self.parameters)
        self.pregen = Pregenerator(self.prefetch, self.max_concurrent)
        self._pickle_cache = (self.ledger.version, blob) if blob is not None else None

    def save(self, checkpoint_path: str) -> None:
        """Pickle the searcher, Ax client included."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Load what :meth:`save` wrote; running trials stay pending in Ax."""
        self.pregen.stop()
        with open(checkpoint_path, "rb") as f:
            self.__setstate__(pickle.load(f))
