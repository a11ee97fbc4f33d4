"""The final job's work as units computed once each: re-scoring a candidate, and one
:class:`~bayesft_tune.mc_parts.Part` of a network's test table.

Every unit runs on one torch thread, so its numbers do not depend on which thread runs it,
when, or beside what. That lets the search score units *ahead*, on the core the last
running trial leaves free (:func:`score_ahead`), and the final job run the rest on a pool of
threads (:func:`run_units`); a :class:`UnitCache` shared by both hands each result to whoever
asks, so a unit scored ahead is never scored again and the tables equal those of a final job
that scored everything itself.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import pandas as pd
import torch
from torch import nn

from bayesft_tune.evaluation import as_batches, score_batches
from bayesft_tune.mc_parts import draw_states, evaluate_part, join_parts, plan_parts
from bayesft_tune.tasks.checkpoint import model_from_state

__all__ = ["DRIFT_BATCH", "Scorer", "Scoring", "UnitCache", "from_checkpoint", "run_units", "start_units",
           "unit_pool"]

UNIT_KINDS = ("clean", "part")
"""Keys of scoring units (the rest are shared inputs: networks, batches, draw states)."""

DRIFT_BATCH = 1024
"""Batch size of the drifted passes: :func:`~bayesft_tune.evaluation.evaluate_under_drift`'s
default, which re-selection and the test table always used (a batch's sums depend on it)."""


def _fill(future: Future, fn: Callable[[], Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except BaseException as error:  # noqa: BLE001  (handed to whoever waits for the unit)
        future.set_exception(error)


class UnitCache:
    """Results of the final job's units by key, each computed once by whoever claims it first.

    Keys name what determines a unit's value within one search (the seeds, T and σ grid are
    the search's): ``("clean", name, split)``, ``("part", name, split, seed, part)``, and the
    shared inputs ``("model", name)``, ``("states", name, split, seed)``, ``("batches", split,
    batch size)``; ``name`` is a trial id, or ``"erm"`` for the ERM reference.

    Attributes:
        stage: ``"ahead"`` while the search scores ahead, then ``"final"``: which stage a
            unit is first claimed in (counted by :meth:`final_units`).
    """

    def __init__(self, stage: str = "final") -> None:
        self.stage = stage
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future] = {}
        self._owner: dict[Hashable, str] = {}
        self._taken: set[Hashable] = set()

    def run(self, key: Hashable, fn: Callable[[], Any], pool: ThreadPoolExecutor | None = None) -> Future:
        """The unit's future: computed already, in flight, or started now (in ``pool``, else here)."""
        with self._lock:
            future = self._futures.get(key)
            if future is not None:
                if self.stage == "final" and self._owner[key] == "ahead":
                    self._taken.add(key)
                return future
            future = self._futures[key] = Future()
            self._owner[key] = self.stage
        if pool is None:
            _fill(future, fn)
        else:
            pool.submit(_fill, future, fn)
        return future

    def value(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        """The unit's result, computing it in this thread unless another thread has it."""
        return self.run(key, fn).result()

    def final_units(self) -> tuple[int, int]:
        """``(taken, scored)``: scoring units (clean passes and drift parts) the final job took
        from those scored ahead, and those it scored itself."""
        with self._lock:
            units = [k for k in self._owner if k[0] in UNIT_KINDS]
            return (sum(k in self._taken for k in units), sum(self._owner[k] == "final" for k in units))


def unit_pool(threads: int, device: str) -> ThreadPoolExecutor:
    """Threads for the final job's units: ``threads`` on CPU (each unit on one torch thread),
    one on an accelerator."""
    workers = max(1, int(threads)) if torch.device(device).type == "cpu" else 1
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="final-unit",
                              initializer=torch.set_num_threads, initargs=(1,))


@dataclass(frozen=True)
class Scoring:
    """One network's Monte Carlo drift frame on one split: what its numbers depend on.

    Attributes:
        name: the network (a trial id, or ``"erm"``).
        split: ``"val"`` (re-selection) or ``"test"``.
        sigmas, samples, seed: σ grid, T and seed of the drift draws.
    """

    name: str
    split: str
    sigmas: tuple[float, ...]
    samples: int
    seed: int


class Scorer:
    """The final job's units for one search's networks, on the data they are scored on.

    Args:
        spec: the search's trial spec (task, objective, drift).
        data: the evaluation sets by split (``"val"``, ``"test"``).
        builders: a function building each network by name (:func:`from_checkpoint`).
        cache: where the units' results live (shared with whoever scores ahead).
        device: where the networks are scored.
    """

    def __init__(self, spec, data: dict[str, Any], builders: dict[str, Callable[[], nn.Module]],
                 cache: UnitCache, device: str = "cpu") -> None:
        self.spec, self.data, self.builders, self.cache, self.device = spec, data, builders, cache, device

    def model(self, name: str) -> nn.Module:
        """Network ``name`` on the scoring device, in eval mode (built once)."""
        return self.cache.value(("model", name), lambda: self.builders[name]().to(self.device).eval())

    def batches(self, split: str, batch_size: int) -> list:
        """Split ``split`` as ``(x, y)`` batches on the device (materialised once)."""
        return self.cache.value(("batches", split, batch_size),
                                lambda: as_batches(self.data[split], batch_size, torch.device(self.device)))

    def frame_units(self, ev: Scoring) -> dict[Hashable, Callable[[], pd.DataFrame]]:
        """The units of ``ev``'s drift frame by key, in the order to compute them."""
        def states():
            return draw_states(self.model(ev.name), ev.samples, self.spec.drift, ev.seed)

        def part_unit(part):
            def unit() -> pd.DataFrame:
                drawn = self.cache.value(("states", ev.name, ev.split, ev.seed), states)
                return evaluate_part(self.model(ev.name), self.batches(ev.split, DRIFT_BATCH), part, self.spec.drift,
                                     drawn)
            return unit
        return {("part", ev.name, ev.split, ev.seed, part): part_unit(part)
                for part in plan_parts(ev.sigmas, ev.samples)}

    def frame(self, ev: Scoring, pool: ThreadPoolExecutor | None) -> pd.DataFrame:
        """``ev``'s drift frame: :func:`~bayesft_tune.evaluation.evaluate_under_drift`'s rows."""
        return join_parts(run_units(self.cache, self.frame_units(ev), pool), ev.sigmas)

    def reselect_units(self, name: str, seed: int, samples: int) -> dict[Hashable, Callable[[], Any]]:
        """The units of a re-score on validation: the clean pass, then the objective's drift parts."""
        def clean() -> float:
            return score_batches(self.model(name), self.batches("val", self.spec.get_task().eval_batch_size))[1]
        return {("clean", name, "val"): clean, **self.frame_units(self.reselect_scoring(name, seed, samples))}

    def reselect_scoring(self, name: str, seed: int, samples: int) -> Scoring:
        """The drift frame a re-score covers: the objective's σ values on validation."""
        return Scoring(name, "val", tuple(self.spec.objective.eval_sigmas), samples, seed)

    def reselect(self, name: str, seed: int, samples: int, pool: ThreadPoolExecutor | None) -> dict:
        """Network ``name`` re-scored: ``{"clean_accuracy", "reselected", "reselected_sem"}``."""
        clean, *parts = run_units(self.cache, self.reselect_units(name, seed, samples), pool)
        ev = self.reselect_scoring(name, seed, samples)
        scores = self.spec.objective.score(join_parts(parts, ev.sigmas))
        metric = self.spec.objective.name
        return {"clean_accuracy": clean, "reselected": scores[metric], "reselected_sem": scores[f"{metric}_sem"]}


def from_checkpoint(state: dict) -> Callable[[], nn.Module]:
    """The builder of a trial's network from its checkpoint state."""
    return lambda: model_from_state(state)


def start_units(cache: UnitCache, units: dict[Hashable, Callable[[], Any]],
                pool: ThreadPoolExecutor | None) -> list[Future]:
    """Every unit's future, in order: cached ones as they are, the rest started in ``pool``
    (computed in this thread without one)."""
    return [cache.run(key, fn, pool) for key, fn in units.items()]


def run_units(cache: UnitCache, units: dict[Hashable, Callable[[], Any]],
              pool: ThreadPoolExecutor | None) -> list[Any]:
    """Every unit's result, in order (:func:`start_units`, then waiting for them)."""
    return [f.result() for f in start_units(cache, units, pool)]
