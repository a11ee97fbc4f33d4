"""The Tune experiment of a search: the trials' shared spec, the Ax searcher (with its
warm-start and multi-objective parts), the scheduler, the recorder of the Parquet tables,
and a search generator that follows a moved run directory on ``--resume``."""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
from typing import Iterator

from ray import tune
from ray.tune.logger import JsonLoggerCallback
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import SearchGenerator

from bayesft_tune.data import Splits
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.driver_jobs import ranked_trials
from bayesft_tune.search.extensions import BestCheckpointBoard, search_parts
from bayesft_tune.run_dir import RUN_DIR_ENV, RunDir, storage_root
from bayesft_tune.search.recorder import ParquetRecorder
from bayesft_tune.search.searcher import AxSearcher
from bayesft_tune.search.session import scoped_environ
from bayesft_tune.search.tail import TailScorer
from bayesft_tune.storage import resolve
from bayesft_tune.tasks import shipped_task
from bayesft_tune.tasks.spec import TrialSpec
from trainables import run_trial

__all__ = ["PENDING_TRIALS_ENV", "RelocatableSearchGenerator", "eval_epochs", "fit_environment", "make_recorder",
           "make_tuner", "search_spec", "trainable"]

PENDING_TRIALS_ENV = "TUNE_MAX_PENDING_TRIALS_PG"
"""Tune's limit on trials waiting for their actor. Its ``auto`` is 1 for a searcher not wrapped
in Tune's ``ConcurrencyLimiter`` (ours limits concurrency itself: the limiter would drop
resumed trials), so a search's trials started one at a time: the second trial's worker
began to boot only once the first trial ran (about 3 s of one idle core in the default
search)."""


def eval_epochs(cfg: SearchConfig, epochs: int) -> tuple[int, ...]:
    """Epochs that compute the MC objective: every ``eval_every``-th, ASHA's rungs, the last."""
    out, every = {epochs}, cfg.searcher.eval_every
    if every:
        out |= set(range(every, epochs + 1, every))
    if cfg.searcher.scheduler == "asha":
        rung = max(1, epochs // 4)
        while rung < epochs:
            out.add(rung)
            rung *= 2
    return tuple(sorted(out))


def search_spec(cfg: SearchConfig) -> TrialSpec:
    """The spec every trial of the search shares, with the epochs that compute the objective."""
    epochs = cfg.trial_spec().epochs
    return cfg.trial_spec(eval_epochs(cfg, epochs))


def trainable(cfg: SearchConfig, splits: Splits | None = None):
    """The trial function with its per-trial resources; ``splits`` (the driver's copy of the
    trials' data split, or None) and a task passed as a Python object that no module holds
    reach every trial through Ray's object store."""
    shared = {k: v for k, v in (("splits", splits), ("task", shipped_task(cfg.train.task))) if v is not None}
    fn = tune.with_parameters(run_trial, **shared) if shared else run_trial
    return tune.with_resources(fn, {"cpu": cfg.resources.cpus_per_trial, "gpu": cfg.resources.gpus_per_trial})


def _searcher(cfg: SearchConfig, spec: TrialSpec, floor: float | None, board: str | None) -> AxSearcher:
    obj, s = spec.objective, cfg.searcher
    kwargs = dict(metric=obj.name, mode=obj.direction, sem_metric=obj.sem_metric,
                  outcome_constraints=[f"clean_accuracy >= {floor}"] if floor is not None else [],
                  max_concurrent=s.concurrency, seed=s.seed, method=s.method,
                  initialization_budget=s.initialization_budget)
    parts = search_parts(board, cfg.pareto.multi_objective)
    return AxSearcher(spec.space.parameters(spec.get_task()), parts=parts, **kwargs)


def make_tuner(cfg: SearchConfig, spec: TrialSpec, name: str, run_dir: str, floor: float | None,
               splits: Splits | None = None) -> tune.Tuner:
    """A new Tune experiment ``name`` under the search's storage path (``splits``: see :func:`trainable`)."""
    obj = spec.objective
    scheduler = (ASHAScheduler(time_attr="epoch", max_t=spec.epochs,
                               grace_period=max(1, spec.epochs // 4), reduction_factor=2)
                 if cfg.searcher.scheduler == "asha" else None)
    board = BestCheckpointBoard(obj.name, obj.direction, key=name) if cfg.warm_start.mode == "warm_start" else None
    recorder = make_recorder(cfg, spec, run_dir)
    tail = TailScorer(recorder, functools.partial(ranked_trials, direction=obj.direction, floor=floor),
                      cfg.final.reselect_top_k, cfg.searcher.trials, cfg.searcher.concurrency)
    callbacks = [JsonLoggerCallback(), recorder, tail, *([board] if board else [])]
    search_alg = RelocatableSearchGenerator(_searcher(cfg, spec, floor, board and name))
    return tune.Tuner(
        trainable(cfg, splits), param_space=spec.to_config(),
        tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=scheduler, num_samples=cfg.searcher.trials,
                                    metric=obj.name, mode=obj.direction, reuse_actors=True,
                                    trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(name=name, storage_path=storage_root(cfg.storage.storage_path),
                                  failure_config=tune.FailureConfig(max_failures=cfg.resources.max_failures),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                  verbose=0, callbacks=callbacks))


@contextlib.contextmanager
def fit_environment(cfg: SearchConfig, run_dir: str) -> Iterator[None]:
    """What Tune and the recorder read from the driver's environment while a search fits:
    where the run directory lives now (:data:`RUN_DIR_ENV`) and how many trials may wait
    for their actors at once (:data:`PENDING_TRIALS_ENV`: the concurrency, unless the user
    set it). Both are restored afterwards."""
    with scoped_environ({**RunDir(run_dir).env(),
                         PENDING_TRIALS_ENV: os.environ.get(PENDING_TRIALS_ENV) or str(cfg.searcher.concurrency)}):
        yield


def make_recorder(cfg: SearchConfig, spec: TrialSpec, run_dir: str) -> ParquetRecorder:
    """The callback that writes ``trials.parquet`` and ``history.parquet``."""
    constants = {"target_sigma": cfg.scoring.target_sigma, "samples": cfg.scoring.samples,
                 "seed": cfg.searcher.seed, "data_seed": cfg.train.data_seed}
    return ParquetRecorder(run_dir, cfg.train.task, spec.objective, spec.epochs, constants,
                           verbose=cfg.storage.verbose, total=cfg.searcher.trials)


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
