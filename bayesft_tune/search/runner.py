"""Run a search on Ray Tune: ERM reference, trials, re-selection and the test table.

    outcome = run_search(SearchConfig(trials=30))        # or resume_search(run_dir)
"""

from __future__ import annotations

import math
import os
import posixpath
import sys
import tempfile
import time
from dataclasses import dataclass

import pandas as pd
import ray
from ray import tune
from ray.tune.logger import JsonLoggerCallback
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import SearchGenerator

from bayesft_tune.errors import UserInputError
from bayesft_tune.faults import pause_at
from bayesft_tune.search import rundir
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.extensions import BestCheckpointBoard, ExtendedAxSearcher, pareto_table, plot_pareto
from bayesft_tune.search.interrupt import remember_run_dir
from bayesft_tune.search.preflight import check_ray_address, check_resources, check_storage_writable
from bayesft_tune.search.recorder import RUN_DIR_ENV, ParquetRecorder
from bayesft_tune.search.repair import rebuild_from_results
from bayesft_tune.search.searcher import AxSearcher
from bayesft_tune.search.session import ray_session
from bayesft_tune.seeds import stream_seed
from bayesft_tune.storage import join, read_table, resolve, write_table
from bayesft_tune.tasks.checkpoint import load_state
from bayesft_tune.tasks.final import Candidate, FinalJob, Reference, run_final, train_reference
from bayesft_tune.tasks.spec import TrialSpec
from trainables import run_trial
from trainables._common import resolve_target

__all__ = ["SearchOutcome", "eval_epochs", "ranked_trials", "repair_run", "resume_search", "run_search"]


@dataclass(frozen=True)
class SearchOutcome:
    """What a finished search leaves.

    Attributes:
        run_dir: local path or URI holding the tables.
        best: the returned trial's row of ``trials`` (None if none completed).
        trials, robustness, selection: the tables as written.
        reference_clean_accuracy: the ERM reference's clean validation accuracy (or NaN).
        wall_time_s: seconds from start to tables written.
        searcher_seconds: time the Ax searcher spent generating points (in the driver).
        pareto: the observed Pareto front (``multi_objective`` searches; else None).
    """

    run_dir: str
    best: dict | None
    trials: pd.DataFrame
    robustness: pd.DataFrame
    selection: pd.DataFrame
    reference_clean_accuracy: float
    wall_time_s: float
    searcher_seconds: float
    pareto: pd.DataFrame | None = None


def eval_epochs(cfg: SearchConfig, epochs: int) -> tuple[int, ...]:
    """Epochs that compute the MC objective: every ``eval_every``-th, ASHA's rungs, the last."""
    out = {epochs}
    if cfg.eval_every:
        out |= set(range(cfg.eval_every, epochs + 1, cfg.eval_every))
    if cfg.scheduler == "asha":
        rung = max(1, epochs // 4)
        while rung < epochs:
            out.add(rung)
            rung *= 2
    return tuple(sorted(out))


def _spec(cfg: SearchConfig) -> TrialSpec:
    epochs = cfg.trial_spec().epochs
    return cfg.trial_spec(eval_epochs(cfg, epochs))


def _min_clean(cfg: SearchConfig, reference: Reference | None) -> float | None:
    """The clean-accuracy floor: the user's, and ERM's minus the guard; the higher wins."""
    floors = [cfg.min_clean_accuracy] if cfg.min_clean_accuracy is not None else []
    if reference is not None and cfg.clean_guard is not None:
        floors.append(round(reference.clean_accuracy - cfg.clean_guard, 6))
    return max(floors) if floors else None


def _searcher(cfg: SearchConfig, spec: TrialSpec, floor: float | None, board: str | None) -> AxSearcher:
    obj = spec.objective
    kwargs = dict(metric=obj.name, mode=obj.direction, sem_metric=obj.sem_metric,
                  outcome_constraints=[f"clean_accuracy >= {floor}"] if floor is not None else [],
                  max_concurrent=cfg.concurrency, seed=cfg.seed, method=cfg.method,
                  initialization_budget=cfg.initialization_budget)
    parameters = spec.space.parameters(spec.get_task())
    if board is None and not cfg.multi_objective:
        return AxSearcher(parameters, **kwargs)
    return ExtendedAxSearcher(parameters, board=board, multi_objective=cfg.multi_objective, **kwargs)


def _tuner(cfg: SearchConfig, spec: TrialSpec, name: str, run_dir: str, floor: float | None) -> tune.Tuner:
    obj = spec.objective
    scheduler = (ASHAScheduler(time_attr="training_iteration", max_t=spec.epochs,
                               grace_period=max(1, spec.epochs // 4), reduction_factor=2)
                 if cfg.scheduler == "asha" else None)
    board = BestCheckpointBoard(obj.name, obj.direction, key=name) if cfg.mode == "warm_start" else None
    recorder = _recorder(cfg, spec, run_dir)
    return tune.Tuner(
        tune.with_resources(run_trial, {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial}),
        param_space=spec.to_config(),
        tune_config=tune.TuneConfig(search_alg=RelocatableSearchGenerator(_searcher(cfg, spec, floor, board and name)),
                                    scheduler=scheduler,
                                    num_samples=cfg.trials, metric=obj.name, mode=obj.direction,
                                    reuse_actors=True, trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(name=name, storage_path=rundir.storage_root(cfg.storage_path),
                                  failure_config=tune.FailureConfig(max_failures=cfg.max_failures),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                  verbose=0, callbacks=[JsonLoggerCallback(), recorder, *([board] if board else [])]))


def _recorder(cfg: SearchConfig, spec: TrialSpec, run_dir: str) -> ParquetRecorder:
    return ParquetRecorder(run_dir, cfg.task, spec.objective, spec.epochs,
                           {"target_sigma": cfg.target_sigma, "samples": cfg.samples, "seed": cfg.seed,
                            "data_seed": cfg.data_seed}, verbose=cfg.verbose, total=cfg.trials)


def repair_run(run_dir: str) -> tuple[int, int]:
    """Rewrite ``trials.parquet`` and ``history.parquet`` from the trials' own ``result.json``.

    Returns:
        ``(trials, history rows)`` written.
    """
    run_dir = rundir.storage_root(run_dir)
    cfg = rundir.load_config(run_dir)
    recorder = _recorder(cfg, _spec(cfg), run_dir)
    if not rebuild_from_results(recorder):
        raise UserInputError(f"{run_dir} holds no trial results (trial_*/result.json) to rebuild from.")
    recorder.write()
    return len(recorder.trials), len(recorder.history)


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


class RelocatableSearchGenerator(SearchGenerator):
    """Tune's wrapper of a searcher, made to follow a moved run directory on ``--resume``.

    A resumed Tune run restores the generator's pickled experiment, whose storage still
    names the directory the run started in; every trial created after the resume would
    write there. This points it at where the run lives now (``RUN_DIR_ENV``).
    """

    def set_state(self, state: dict) -> None:  # noqa: D102
        super().set_state(state)
        storage, run_dir = getattr(self._experiment, "storage", None), os.environ.get(RUN_DIR_ENV)
        if storage is not None and run_dir:
            fs, path = resolve(run_dir)
            storage.storage_filesystem, storage.storage_fs_path = fs, posixpath.dirname(path)
            storage.experiment_dir_name = posixpath.basename(path)


def ranked_trials(trials: pd.DataFrame, direction: str, floor: float | None = None) -> pd.DataFrame:
    """Completed trials, best observed objective first; those meeting the clean-accuracy floor
    only, unless none does (the summary then warns)."""
    done = trials[trials.status == "completed"].dropna(subset=["objective_mean"])
    if floor is not None and (done.clean_accuracy >= floor).any():
        done = done[done.clean_accuracy >= floor]
    return done.sort_values("objective_mean", ascending=direction == "min")


def _candidates(cfg: SearchConfig, spec: TrialSpec, trials: pd.DataFrame, grid, floor) -> tuple[Candidate, ...]:
    top = ranked_trials(trials, spec.objective.direction, floor).head(cfg.reselect_top_k)
    checkpoints = {r.metrics.get("trial_id"): r.checkpoint for r in grid if r.checkpoint is not None}
    out = []
    for row in top.itertuples():
        if row.trial_id in checkpoints:
            with checkpoints[row.trial_id].as_directory() as d:
                out.append(Candidate(str(row.trial_id), float(row.objective_mean), load_state(d)))
    return tuple(out)


def _final(cfg: SearchConfig, spec: TrialSpec, candidates, reference, floor) -> tuple[pd.DataFrame, pd.DataFrame]:
    job = FinalJob(spec, candidates, cfg.erm_baseline, reference, tuple(cfg.robustness_sigmas),
                   cfg.robustness_samples, stream_seed(cfg.seed, "reselect"), stream_seed(cfg.seed, "test"),
                   floor, threads=max(1, int(cfg.cpus_per_trial)))
    task = spec.get_task()
    _say(cfg, f"re-scoring the top {len(candidates)} trials with fresh validation draws; test table "
              f"(T = {cfg.robustness_samples}, σ = {', '.join(f'{x:g}' for x in cfg.robustness_sigmas)})")
    pause_at("final")  # test hook (bayesft_tune/faults.py), off unless BAYESFT_PAUSE_AT is set
    final = resolve_target(task.robustness) if task.robustness else run_final
    return _call(cfg, final, job)


def _call(cfg: SearchConfig, fn, *args):
    """Run a driver-side job (ERM reference, final job): in this process on a local CPU
    search (no fresh worker to start: 8 s per job as a Ray task vs 3-4 s in-process in
    bench/vs_plain_loop.py's first check), else as a Ray task where Ray places it (a GPU node)."""
    if cfg.address is None and not cfg.gpus_per_trial:
        return fn(*args)
    remote = ray.remote(num_cpus=cfg.cpus_per_trial, num_gpus=cfg.gpus_per_trial)(fn)
    return ray.get(remote.remote(*args))


def _say(cfg: SearchConfig, text: str) -> None:
    if cfg.verbose:
        print(f"bayesft-tune search: {text}", file=sys.stderr, flush=True)


def _reference(cfg: SearchConfig, spec: TrialSpec, run_dir: str) -> Reference | None:
    """The ERM reference: trained once per run (in a Ray worker) and kept in the run directory."""
    if spec.get_task().kind != "classification" or not (cfg.erm_baseline or cfg.clean_guard is not None):
        return None
    saved = rundir.load_reference(run_dir)
    if saved is not None:
        return saved
    _say(cfg, f"training the ERM reference of the clean-accuracy guard ({spec.epochs} epochs)")
    reference = _call(cfg, train_reference, spec, "cpu", max(1, int(cfg.cpus_per_trial)))
    rundir.save_reference(reference, run_dir)
    return reference


def _finish(cfg: SearchConfig, spec: TrialSpec, run_dir: str, grid, reference, floor, started) -> SearchOutcome:
    trials = read_table(run_dir, "trials") if len(grid) else pd.DataFrame(columns=["status", "error"])
    if not (trials.status == "completed").any():
        errors = trials.error.dropna()
        first = errors.iloc[0] if len(errors) else "no trial completed"
        raise UserInputError(f"no trial of the search completed (statuses {trials.status.value_counts().to_dict()});"
                             f" the first error: {first}. See the error column of "
                             f"{join(run_dir, 'trials.parquet')}; nothing else was written.")
    robustness, selection = _final(cfg, spec, _candidates(cfg, spec, trials, grid, floor), reference, floor)
    for frame, table in ((robustness, "robustness"), (selection, "selection")):
        if not frame.empty:
            write_table(frame, run_dir, table)
    chosen = selection[selection.chosen].trial_id.iloc[0] if not selection.empty else None
    best = trials[trials.trial_id == chosen].iloc[0].to_dict() if chosen is not None else None
    pareto = _write_pareto(cfg, run_dir, trials) if cfg.multi_objective else None
    return SearchOutcome(run_dir, best, trials, robustness, selection,
                         reference.clean_accuracy if reference else math.nan, time.perf_counter() - started,
                         rundir.searcher_seconds(run_dir), pareto)


def _write_pareto(cfg: SearchConfig, run_dir: str, trials: pd.DataFrame) -> pd.DataFrame:
    """``pareto.parquet`` and ``pareto.png`` of a multi-objective search."""
    pareto = pareto_table(run_dir, trials, cfg.seed)
    if not pareto.empty:
        write_table(pareto, run_dir, "pareto")
    fs, root = resolve(run_dir)
    with tempfile.TemporaryDirectory() as d:
        local = plot_pareto(trials, pareto, os.path.join(d, "pareto.png"))
        with open(local, "rb") as src, fs.open_output_stream(f"{root}/pareto.png") as dst:
            dst.write(src.read())
    return pareto


def _run(cfg: SearchConfig, run_dir: str, fit, started: float) -> SearchOutcome:
    """Shared by a new and a resumed search, inside a Ray session."""
    check_resources(cfg.cpus_per_trial, cfg.gpus_per_trial)
    spec = _spec(cfg)
    reference = _reference(cfg, spec, run_dir)
    floor = _min_clean(cfg, reference)
    os.environ[RUN_DIR_ENV] = run_dir
    try:
        grid = fit(spec, floor)
    finally:
        os.environ.pop(RUN_DIR_ENV, None)
    return _finish(cfg, spec, run_dir, grid, reference, floor, started)


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
    check_ray_address(cfg.address)
    name = cfg.name or time.strftime("search-%Y%m%d-%H%M%S")
    run_dir = join(rundir.storage_root(cfg.storage_path), name)
    rundir.refuse_existing(run_dir, name)
    check_storage_writable(run_dir)
    rundir.save_config(cfg, run_dir)
    remember_run_dir(run_dir)
    with ray_session(cfg.address, env={RUN_DIR_ENV: run_dir}):
        return _run(cfg, run_dir, lambda spec, floor: _tuner(cfg, spec, name, run_dir, floor).fit(), started)


def resume_search(run_dir: str, address: str | None = None) -> SearchOutcome:
    """Continue an interrupted search where its run directory lives now (moved or copied
    directories included): Tune restores its trials, the searcher its Ax state."""
    started = time.perf_counter()
    run_dir = rundir.storage_root(run_dir)
    cfg = rundir.load_config(run_dir, address=address)
    remember_run_dir(run_dir)

    def fit(spec: TrialSpec, floor):
        if not tune.Tuner.can_restore(run_dir):  # killed before Tune saved its experiment: start it, here
            parent, name = posixpath.split(run_dir.rstrip("/"))
            return _tuner(rundir.load_config(run_dir, address=address, storage_path=parent), spec, name, run_dir,
                          floor).fit()
        trainable = tune.with_resources(run_trial, {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial})
        return tune.Tuner.restore(run_dir, trainable=trainable, resume_errored=True).fit()

    with ray_session(cfg.address, env={RUN_DIR_ENV: run_dir}):
        return _run(cfg, run_dir, fit, started)
