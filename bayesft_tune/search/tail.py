"""Scoring ahead in a search's tail: the final job's units on the core the last trials leave free.

Once Tune has started every trial and one finishes with nothing left to start, its core
stays idle until the search ends: the tail (21 s of one idle core at the end of a default
LeNet5 search, then 25-51 s of final job). :class:`TailScorer` gives that core the final
job's work: it re-scores the current top trials and then scores the test table of the one
they choose, unit by unit (:func:`~bayesft_tune.tasks.final.score_ahead`), in one driver
thread on one torch thread. When a later trial changes the top trials it starts again from
them; units already scored stay. The final job then takes every unit it needs from the
shared :class:`~bayesft_tune.tasks.final_parts.UnitCache` and scores only the rest; its
tables are the same as without scoring ahead (each unit on one torch thread either way).

Only where the final job runs in the driver (a local CPU search with the built-in final
job). Tune pickles its callbacks with the experiment, so the callback holds only its
settings and finds the live parts (:class:`Ahead`) that :func:`scoring_ahead` lends while
the trials run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from typing import Any, Iterator

import pandas as pd
import torch
from ray.tune import Callback

from bayesft_tune.run_dir import RunDir
from bayesft_tune.tasks.checkpoint import load_state
from bayesft_tune.tasks.final import Candidate, FinalJob, score_ahead
from bayesft_tune.tasks.final_parts import UnitCache

__all__ = ["Ahead", "TailScorer", "scoring_ahead"]

_AHEAD: dict[str, "Ahead"] = {}
"""The live parts of this driver's searches by run directory (where it is now: ``RUN_DIR_ENV``,
which the runner sets while the trials run), while their trials run."""


class Ahead:
    """The scoring-ahead thread of one search, and what it scores.

    Args:
        job: the final job's inputs, without candidates (each plan supplies them).
        cache: the units scored, shared with the final job.
    """

    def __init__(self, job: FinalJob, cache: UnitCache) -> None:
        self.job, self.cache = job, cache
        self._plan: tuple[int, list[tuple[str, float, Any]]] = (0, [])
        self._wake = threading.Condition()
        self._stopped = False
        self._states: dict[str, dict] = {}
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()  # set while the newest plan is scored whole

    def replan(self, top: list[tuple[str, float, Any]]) -> None:
        """Score ahead for these top trials ``(trial_id, observed objective, checkpoint)``, best first."""
        with self._wake:
            if self._stopped or [t[0] for t in top] == [t[0] for t in self._plan[1]]:
                return
            self._plan = (self._plan[0] + 1, top)
            self._idle.clear()
            self._wake.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="score-ahead", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the unit in flight, and wait for it (it stays in the cache)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the newest plan is scored whole; False if ``timeout`` seconds passed first."""
        return self._idle.wait(timeout)

    def _current(self, version: int) -> bool:
        return not self._stopped and self._plan[0] == version

    def _work(self) -> None:
        done = 0
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopped or self._plan[0] != done)
                if self._stopped:
                    return
                version, top = self._plan
            try:
                job = dataclasses.replace(self.job, candidates=tuple(self._candidate(*t) for t in top))
                score_ahead(job, self.cache, lambda: self._current(version))
            except Exception:  # noqa: BLE001  (an optimisation: the final job meets, and reports, the same error)
                return
            done = version
            with self._wake:
                if self._plan[0] == done:
                    self._idle.set()

    def _candidate(self, trial_id: str, objective: float, checkpoint) -> Candidate:
        if trial_id not in self._states:
            with checkpoint.as_directory() as d:
                self._states[trial_id] = load_state(d)
        return Candidate(trial_id, objective, self._states[trial_id])


@contextlib.contextmanager
def scoring_ahead(run_dir: str, job: FinalJob | None) -> Iterator[UnitCache | None]:
    """Lend the search in ``run_dir`` a scoring-ahead thread while its trials run
    (``job``: the final job's template; None: no scoring ahead). Yields the cache the final
    job takes the scored units from; on exit the thread stops after its unit in flight, and
    the driver's torch thread count is restored."""
    if job is None:
        yield None
        return
    ahead, threads = Ahead(job, UnitCache(stage="ahead")), torch.get_num_threads()
    _AHEAD[run_dir] = ahead
    try:
        yield ahead.cache
    finally:
        _AHEAD.pop(run_dir, None)
        ahead.stop()
        ahead.cache.stage = "final"
        torch.set_num_threads(threads)


class TailScorer(Callback):
    """Starts scoring ahead when a trial finishes and no trial is left to start.

    Args:
        recorder: the search's :class:`~bayesft_tune.search.recorder.ParquetRecorder` (its
            rows rank the trials; it must come first in Tune's callbacks).
        ranked: ``trials frame -> ranked frame`` (the final job's ranking, floor included).
        top_k, total, concurrency: candidates re-scored, trials of the search, trials at once.
    """

    def __init__(self, recorder, ranked, top_k: int, total: int, concurrency: int) -> None:
        self.recorder, self.ranked = recorder, ranked
        self.top_k, self.total, self.concurrency = int(top_k), int(total), int(concurrency)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
        here = RunDir.here()
        ahead = _AHEAD.get(here.path) if here else None
        if ahead is None or not self._slot_free_for_good(trials, trial):
            return
        checkpoints = {t.trial_id: t.checkpoint for t in trials if t.checkpoint is not None}
        top = self.ranked(pd.DataFrame(list(self.recorder.trials.values()))).head(self.top_k)
        plan = [(str(r.trial_id), float(r.objective_mean), checkpoints[r.trial_id])
                for r in top.itertuples() if r.trial_id in checkpoints and math.isfinite(r.objective_mean)]
        if plan:
            ahead.replan(plan)

    def _slot_free_for_good(self, trials: list, trial) -> bool:
        """Every trial started, some still running, and fewer than the concurrency."""
        if len(trials) < self.total:
            return False
        unfinished = [t for t in trials if t is not trial and t.status in ("PENDING", "RUNNING", "PAUSED")]
        return 0 < len(unfinished) < self.concurrency and not any(t.status == "PENDING" for t in unfinished)
