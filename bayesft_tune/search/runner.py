"""Run a BayesFT search on Ray Tune and write its Parquet tables."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

import pandas as pd

from bayesft_tune.search.config import SearchConfig
from bayesft_tune.storage import join, read_table, write_table

__all__ = ["SearchOutcome", "resume_search", "run_search"]

STATE_FILE = "search_config.json"


@dataclass(frozen=True)
class SearchOutcome:
    """What a finished search leaves: its run directory and tables.

    Attributes:
        run_dir: local path or URI holding trials/history/robustness.parquet.
        best: the best observed trial's row of ``trials`` (None if none completed).
        trials, robustness: the tables as written.
        wall_time_s: seconds from start to tables written.
        searcher_seconds: time the Ax searcher spent generating points (in the driver).
        best_checkpoint: the best trial's ``tune.Checkpoint`` (None if none completed).
        pareto: the observed Pareto front (``multi_objective`` searches; else None).
    """

    run_dir: str
    best: dict | None
    trials: pd.DataFrame
    robustness: pd.DataFrame
    wall_time_s: float
    searcher_seconds: float
    best_checkpoint: object = None
    pareto: pd.DataFrame | None = None


def _ray_environment() -> None:
    """Keep Ray's files out of its default temp dir and its console output short."""
    os.environ.setdefault("RAY_TMPDIR", os.path.join(tempfile.gettempdir(), "bayesft-ray"))
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def connect_ray(address: str | None = None) -> bool:
    """Join ``address`` or start a local Ray (files under ``RAY_TMPDIR``); returns True if
    this call started or joined it (the caller then shuts it down)."""
    import ray

    _ray_environment()
    if ray.is_initialized():
        return False
    os.makedirs(os.environ["RAY_TMPDIR"], exist_ok=True)
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False)
    return True


def _connect(cfg: SearchConfig) -> bool:
    return connect_ray(cfg.address)


def _trial_constants(cfg: SearchConfig) -> dict:
    """Config every trial shares (the searcher adds the dropout rates)."""
    from trainables import get_task

    task = get_task(cfg.task)
    return {"task": cfg.task, "epochs": cfg.epochs or task.epochs,
            "batch_size": cfg.batch_size or task.batch_size, "lr": cfg.lr or task.lr,
            "target_sigma": cfg.target_sigma, "samples": cfg.samples, "drift": cfg.drift,
            "seed": cfg.seed, "eval_seed": cfg.seed + 10_007, "data_seed": cfg.seed,
            "data_dir": os.path.abspath(cfg.data_dir) if cfg.data_dir else None,
            "download": cfg.download,
            "objective_sigmas": list(cfg.objective_sigmas) if cfg.objective == "grid_accuracy" else []}


def _metric(cfg: SearchConfig) -> tuple[str, str]:
    return ("drifted_loss", "min") if cfg.objective == "drifted_loss" else ("grid_accuracy", "max")


def _searcher(cfg: SearchConfig, board=None):
    from bayesft_tune.search.searcher import AxSearcher
    from trainables import get_task

    metric, mode = _metric(cfg)
    constraints = [f"clean_accuracy >= {cfg.min_clean_accuracy}"] if cfg.min_clean_accuracy else []
    names = get_task(cfg.task).parameter_names()
    parameters = {n: cfg.bounds for n in names}
    kwargs = dict(metric=metric, mode=mode, outcome_constraints=constraints,
                  max_concurrent=cfg.concurrency, seed=cfg.seed, method=cfg.method,
                  initialization_budget=cfg.initialization_budget)
    if not (board is not None or cfg.search_noise_injection or cfg.multi_objective):
        return AxSearcher(parameters, **kwargs)
    from bayesft_tune.search.extensions import ExtendedAxSearcher

    if cfg.search_noise_injection:
        parameters["noise_injection"] = tuple(cfg.noise_injection_bounds)
    return ExtendedAxSearcher(parameters, board=board, multi_objective=cfg.multi_objective, **kwargs)


def _trainable(cfg: SearchConfig):
    from ray import tune

    from trainables import run_trial

    return tune.with_resources(run_trial, {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial})


def _storage(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def _tuner(cfg: SearchConfig, run_name: str, recorder):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    metric, mode = _metric(cfg)
    epochs = _trial_constants(cfg)["epochs"]
    scheduler = (ASHAScheduler(time_attr="training_iteration", max_t=epochs,
                               grace_period=max(1, epochs // 4), reduction_factor=2)
                 if cfg.scheduler == "asha" else None)
    board = None
    if cfg.mode == "warm_start":
        from bayesft_tune.search.extensions import BestCheckpointBoard

        board = BestCheckpointBoard(metric, mode)
    return tune.Tuner(
        _trainable(cfg), param_space=_trial_constants(cfg),
        tune_config=tune.TuneConfig(search_alg=_searcher(cfg, board), scheduler=scheduler,
                                    num_samples=cfg.trials, metric=metric, mode=mode,
                                    reuse_actors=True),
        run_config=tune.RunConfig(name=run_name, storage_path=_storage(cfg.storage_path),
                                  failure_config=tune.FailureConfig(max_failures=cfg.max_failures),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                  verbose=0, callbacks=[recorder, *([board] if board else [])]))


def _recorder(cfg: SearchConfig, run_dir: str):
    from bayesft_tune.search.recorder import ParquetRecorder
    from trainables import get_task

    metric, mode = _metric(cfg)
    constants = _trial_constants(cfg)
    names = get_task(cfg.task).parameter_names() + (["noise_injection"] if cfg.search_noise_injection else [])
    return ParquetRecorder(run_dir, cfg.task, names, metric, mode,
                           constants["epochs"],
                           {"target_sigma": cfg.target_sigma, "samples": cfg.samples, "seed": cfg.seed},
                           verbose=cfg.verbose)


def best_trial(trials: pd.DataFrame, cfg: SearchConfig) -> dict | None:
    """Best *observed* completed trial (meeting the clean-accuracy constraint if any)."""
    done = trials[trials.status == "completed"].dropna(subset=["objective_mean"])
    if cfg.min_clean_accuracy is not None:
        done = done[done.clean_accuracy >= cfg.min_clean_accuracy]
    if done.empty:
        return None
    _, mode = _metric(cfg)
    row = done.loc[done.objective_mean.idxmin() if mode == "min" else done.objective_mean.idxmax()]
    return row.to_dict()


def _best_checkpoint(grid, best: dict | None):
    if best is None:
        return None
    return next((r.checkpoint for r in grid if r.metrics.get("trial_id") == best["trial_id"]), None)


def _final_robustness(cfg: SearchConfig, grid, best: dict | None) -> pd.DataFrame:
    import ray

    from bayesft_tune.search.robustness import robustness_job

    checkpoint = _best_checkpoint(grid, best)
    job = ray.remote(num_cpus=cfg.cpus_per_trial, num_gpus=cfg.gpus_per_trial)(robustness_job)
    ref = job.remote(_trial_constants(cfg), list(cfg.robustness_sigmas), cfg.robustness_samples,
                     checkpoint, None if best is None else best["trial_id"], cfg.erm_baseline,
                     max(1, int(cfg.cpus_per_trial)))
    return ray.get(ref)


def _save_config(cfg: SearchConfig, run_dir: str) -> None:
    import json

    from bayesft_tune.storage import resolve

    fs, root = resolve(run_dir)
    fs.create_dir(root, recursive=True)
    with fs.open_output_stream(f"{root}/{STATE_FILE}") as f:
        f.write(json.dumps(cfg.to_dict(), indent=2).encode())


def load_config(run_dir: str, **overrides) -> SearchConfig:
    """The config a search saved in its run directory (for ``--resume``)."""
    import json

    from bayesft_tune.errors import UserInputError
    from bayesft_tune.storage import resolve

    fs, root = resolve(run_dir)
    try:
        with fs.open_input_stream(f"{root}/{STATE_FILE}") as f:
            values = json.loads(f.read().decode())
    except (OSError, FileNotFoundError) as err:
        raise UserInputError(f"{run_dir!r} is not a search run directory (no {STATE_FILE}): {err}. "
                             "Pass the directory a search printed as its run directory.") from err
    return SearchConfig.from_dict({**values, **overrides})


def searcher_seconds(run_dir: str) -> float:
    """Generation time recorded in the newest searcher state Tune saved in the run directory."""
    import pickle

    from pyarrow import fs as pafs

    from bayesft_tune.storage import resolve

    fs, root = resolve(run_dir)
    states = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(root))
                    if i.base_name.startswith("searcher-state-"))
    if not states:
        return float("nan")
    with fs.open_input_stream(states[-1]) as f:
        return float(sum(pickle.loads(f.read()).get("generation_seconds", [])))


def _finish(cfg: SearchConfig, run_dir: str, grid, started: float) -> SearchOutcome:
    trials = read_table(run_dir, "trials")
    best = best_trial(trials, cfg)
    robustness = _final_robustness(cfg, grid, best)
    if not robustness.empty:
        write_table(robustness, run_dir, "robustness")
    pareto = _write_pareto(cfg, run_dir, trials) if cfg.multi_objective else None
    return SearchOutcome(run_dir, best, trials, robustness, time.perf_counter() - started,
                         searcher_seconds(run_dir), _best_checkpoint(grid, best), pareto)


def _write_pareto(cfg: SearchConfig, run_dir: str, trials: pd.DataFrame) -> pd.DataFrame:
    """``pareto.parquet`` and ``pareto.png`` of a multi-objective search."""
    from bayesft_tune.search.extensions import pareto_table, plot_pareto
    from bayesft_tune.storage import resolve

    pareto = pareto_table(run_dir, trials, cfg.seed)
    if not pareto.empty:
        write_table(pareto, run_dir, "pareto")
    fs, root = resolve(run_dir)
    with tempfile.TemporaryDirectory() as d:
        local = plot_pareto(trials, pareto, os.path.join(d, "pareto.png"))
        with open(local, "rb") as src, fs.open_output_stream(f"{root}/pareto.png") as dst:
            dst.write(src.read())
    return pareto


def run_search(cfg: SearchConfig) -> SearchOutcome:
    """Run a BayesFT search to completion and write its three Parquet tables.

    Starts a local Ray (or joins ``cfg.address``), runs ``cfg.trials`` trials with an
    :class:`AxSearcher`, and writes ``trials.parquet`` and ``history.parquet`` as trials
    finish, then ``robustness.parquet`` (best trial vs ERM over the σ grid).
    """
    _ray_environment()
    started = time.perf_counter()
    name = cfg.name or time.strftime("search-%Y%m%d-%H%M%S")
    run_dir = join(_storage(cfg.storage_path), name)
    _save_config(cfg, run_dir)
    owns_ray = _connect(cfg)
    try:
        grid = _tuner(cfg, name, _recorder(cfg, run_dir)).fit()
        return _finish(cfg, run_dir, grid, started)
    finally:
        if owns_ray:
            import ray

            ray.shutdown()


def resume_search(run_dir: str, address: str | None = None) -> SearchOutcome:
    """Continue an interrupted search: Tune restores its trials, the searcher its Ax state."""
    from ray import tune

    _ray_environment()
    started = time.perf_counter()
    cfg = load_config(run_dir, address=address)
    owns_ray = _connect(cfg)
    try:
        tuner = tune.Tuner.restore(_storage(run_dir), trainable=_trainable(cfg), resume_errored=True)
        grid = tuner.fit()
        return _finish(cfg, run_dir, grid, started)
    finally:
        if owns_ray:
            import ray

            ray.shutdown()
