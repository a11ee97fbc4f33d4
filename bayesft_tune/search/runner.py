"""Run a search on Ray Tune: ERM reference, trials, re-selection and the test table.

    outcome = run_search(SearchConfig(trials=30))        # or resume_search(run_dir)

The Tune experiment is built in :mod:`~bayesft_tune.search.tuner`, the jobs around the
trials (reference, final job, Pareto front) are in :mod:`~bayesft_tune.search.driver_jobs`.
"""

from __future__ import annotations

import functools
import math
import posixpath
import time
from typing import Callable

import pandas as pd
from ray import tune

from bayesft_tune.errors import UserInputError
from bayesft_tune.search import rundir
from bayesft_tune.search.searcher import one_blas_thread
from bayesft_tune.search.alternating_search import run_alternating_search
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.driver_jobs import (Prepared, ahead_job, candidates, final_tables, in_thread, min_clean,
                                             ranked_trials, runs_in_driver, say, start_reference, write_pareto)
from bayesft_tune.search.interrupt import raise_if_interrupted, remember_run_dir
from bayesft_tune.search.outcome import SearchOutcome
from bayesft_tune.search.preflight import busy_notice, check_ray_address, check_resources, check_storage_writable
from bayesft_tune.run_dir import RunDir, storage_root
from bayesft_tune.search.repair import rebuild_from_results
from bayesft_tune.search.session import ray_session
from bayesft_tune.search.tail import scoring_ahead
from bayesft_tune.search.tuner import eval_epochs, fit_environment, make_recorder, make_tuner, search_spec, trainable
from bayesft_tune.search.tuner import RelocatableSearchGenerator  # noqa: F401  (tuner.pkl of runs started before
# the runner was split names it here: kept so --resume of those runs unpickles)
from bayesft_tune.storage import join, read_table, write_table
from bayesft_tune.tasks import TASK_MODULES_ENV, TASKS, modules_to_ship
from bayesft_tune.tasks.checks import check_task
from bayesft_tune.tasks.final import Candidate
from bayesft_tune.tasks.final_parts import UnitCache
from bayesft_tune.tasks.spec import TrialSpec

__all__ = ["SearchOutcome", "eval_epochs", "job_code", "ranked_trials", "repair_run", "resume_search", "run_search"]


def job_code(cfg: SearchConfig, run_dir: str) -> tuple[dict[str, str], list[str]]:
    """``(env, py_modules)`` of the search's Ray job: where the run directory lives now, and the
    user's task code every worker imports (:func:`~bayesft_tune.tasks.modules_to_ship`)."""
    paths, names = modules_to_ship(cfg.train.task)
    return {**RunDir(run_dir).env(), **({TASK_MODULES_ENV: ",".join(names)} if names else {})}, paths


def check_user_task(cfg: SearchConfig) -> None:
    """Before Ray starts: a task of the user's is loaded and checked against its data
    (:func:`~bayesft_tune.tasks.checks.check_task`); a built-in task whose dataset needs files
    and got no ``--data-dir`` fails here, at once, with its loader's message."""
    spec = search_spec(cfg)
    if cfg.train.task not in TASKS.names():
        check_task(spec)
    elif cfg.train.data_dir is None and spec.get_task().data not in ("mnist_embedded",):
        spec.splits()


def repair_run(run_dir: str) -> tuple[int, int]:
    """Rewrite ``trials.parquet`` and ``history.parquet`` from the trials' own ``result.json``.

    Returns:
        ``(trials, history rows)`` written.
    """
    run_dir = storage_root(run_dir)
    cfg = rundir.load_config(run_dir)
    recorder = make_recorder(cfg, search_spec(cfg), run_dir)
    _keep_readable_rows(recorder)  # a trial whose result.json is unreadable keeps the rows it had
    if not rebuild_from_results(recorder) and not recorder.trials:
        raise UserInputError(f"{run_dir} holds no trial results (trial_*/result.json) to rebuild from.")
    recorder.write()
    return len(recorder.trials), len(recorder.history)


def _keep_readable_rows(recorder) -> None:
    """Start ``recorder`` from the run's tables as they are, where they read."""
    for table, rows, key in (("trials", recorder.trials, lambda r: r["trial_id"]),
                             ("history", recorder.history, lambda r: (r["trial_id"], int(r["epoch"])))):
        try:
            frame = RunDir(recorder.run_dir).read_table(table)
        except (OSError, ValueError, UserInputError):
            continue
        for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
            rows[key(row)] = row


def _completed(run_dir: str, grid) -> pd.DataFrame:
    """The trials table, if any trial completed (else a UserInputError naming the first error)."""
    trials = read_table(run_dir, "trials") if len(grid) else pd.DataFrame(columns=["status", "error"])
    if not (trials.status == "completed").any():
        errors = trials.error.dropna()
        first = errors.iloc[0] if len(errors) else "no trial completed"
        raise UserInputError(f"no trial of the search completed (statuses {trials.status.value_counts().to_dict()});"
                             f" the first error: {first}. See the error column of "
                             f"{join(run_dir, 'trials.parquet')}; nothing else was written.")
    return trials


def _finish(cfg: SearchConfig, spec: TrialSpec, run_dir: str, trials: pd.DataFrame, top: tuple[Candidate, ...],
            prepared: Prepared, floor, started, scored: UnitCache | None) -> SearchOutcome:
    ref = prepared.reference
    robustness, selection = final_tables(cfg, spec, top, prepared, floor, scored)
    for frame, table in ((robustness, "robustness"), (selection, "selection")):
        if not frame.empty:
            write_table(frame, run_dir, table)
    chosen = selection[selection.chosen].trial_id.iloc[0] if not selection.empty else None
    best = trials[trials.trial_id == chosen].iloc[0].to_dict() if chosen is not None else None
    pareto = write_pareto(cfg, run_dir, trials) if cfg.pareto.multi_objective else None
    gp_total, gp_blocking = rundir.searcher_times(run_dir)
    return SearchOutcome(run_dir, best, trials, robustness, selection,
                         ref.clean_accuracy if ref else math.nan, time.perf_counter() - started,
                         gp_total, pareto, gp_blocking, scored.final_units() if scored is not None else (0, 0))


def _run(cfg: SearchConfig, run_dir: str, fit, started: float, reference) -> Callable[[], SearchOutcome]:
    """Shared by a new and a resumed search, inside a Ray session (``reference``: waits for
    the ERM reference and what comes with it, :func:`~bayesft_tune.search.driver_jobs.start_reference`;
    ``fit(spec, floor, splits)`` runs the trials and returns Tune's result grid).

    Returns the function that waits for the outcome: on a local CPU search the final job runs
    in a driver thread, so it overlaps Ray's shutdown (1.4 s of the default search's wall);
    elsewhere it is a Ray task, done before this returns."""
    res = cfg.resources
    check_resources(res.cpus_per_trial, res.gpus_per_trial)
    notice = busy_notice(res.cpus_per_trial, res.gpus_per_trial, res.address)
    if notice:
        say(cfg, notice)
    spec = search_spec(cfg)
    prepared = reference()
    floor = min_clean(cfg, prepared.reference)
    with fit_environment(cfg, run_dir), one_blas_thread(), \
            scoring_ahead(run_dir, ahead_job(cfg, spec, prepared, floor)) as scored:
        grid = fit(spec, floor, prepared.splits)
    raise_if_interrupted()  # a Ctrl-C during the trials: no final job, exit 130
    trials = _completed(run_dir, grid)
    top = candidates(cfg, spec, trials, grid, floor)  # checkpoints read while Ray is up
    finish = functools.partial(_finish, cfg, spec, run_dir, trials, top, prepared, floor, started, scored)
    if runs_in_driver(cfg):
        return in_thread(finish, "final-job")
    outcome = finish()
    return lambda: outcome


def run_search(cfg: SearchConfig) -> SearchOutcome:
    """Run a search to completion and write its Parquet tables.

    Starts a local Ray (or joins ``cfg.address``), trains the ERM reference, runs
    ``cfg.trials`` trials, re-scores the top trials with fresh validation draws and
    writes ``trials``, ``history``, ``selection`` and ``robustness`` (returned network vs
    ERM on the test split, independent draws).

    Raises:
        UserInputError: the run name is taken (use ``resume_search``), storage is not
            writable, the cluster lacks the resources, or every trial failed.
    """
    started = time.perf_counter()
    address = cfg.resources.address
    check_ray_address(address)
    name = cfg.storage.name or time.strftime("search-%Y%m%d-%H%M%S")
    run_dir = join(storage_root(cfg.storage.storage_path), name)
    check_storage_writable(run_dir)  # a storage service that does not answer: one line, in seconds
    rundir.refuse_existing(run_dir, name)
    check_user_task(cfg)
    rundir.save_config(cfg, run_dir)
    remember_run_dir(run_dir)
    with rundir.driver_lock(run_dir):
        if cfg.warm_start.mode == "alternating":  # Algorithm 1: one network in this process, no trials
            return run_alternating_search(cfg, run_dir)
        ref = start_reference(cfg, search_spec(cfg), run_dir)  # on a local CPU search, alongside Ray's start
        with ray_session(address, *job_code(cfg, run_dir)):
            outcome = _run(cfg, run_dir, lambda spec, floor, splits: make_tuner(cfg, spec, name, run_dir, floor,
                                                                                splits).fit(), started, ref)
        return outcome()


def resume_search(run_dir: str, address: str | None = None) -> SearchOutcome:
    """Continue an interrupted search where its run directory lives now (moved or copied
    directories included): Tune restores its trials, the searcher its Ax state."""
    started = time.perf_counter()
    run_dir = storage_root(run_dir)
    cfg = rundir.load_config(run_dir, address=address)
    rundir.load_reference(run_dir)  # a damaged reference is refused before Ray starts
    remember_run_dir(run_dir)

    def fit(spec: TrialSpec, floor, splits):
        if not tune.Tuner.can_restore(run_dir):  # killed before Tune saved its experiment: start it, here
            parent, name = posixpath.split(run_dir.rstrip("/"))
            return make_tuner(rundir.load_config(run_dir, address=address, storage_path=parent), spec, name,
                              run_dir, floor, splits).fit()
        return tune.Tuner.restore(run_dir, trainable=trainable(cfg, splits), resume_errored=True).fit()

    with rundir.driver_lock(run_dir):
        ref = start_reference(cfg, search_spec(cfg), run_dir)
        with ray_session(cfg.resources.address, *job_code(cfg, run_dir)):
            outcome = _run(cfg, run_dir, fit, started, ref)
        return outcome()
