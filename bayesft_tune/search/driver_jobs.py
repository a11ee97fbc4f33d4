"""The jobs a search runs besides its trials: the ERM reference (and the clean-accuracy floor
it sets) before them; after them, the re-selection of the top trials, the test table and
the Pareto front. On a local CPU search they run in the driver, else as Ray tasks."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

import pandas as pd
import ray
import torch

from bayesft_tune.argtypes import format_level
from bayesft_tune.data import Splits
from bayesft_tune.drift import get_drift
from bayesft_tune.faults import pause_at
from bayesft_tune.search import rundir
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.extensions import pareto_table, plot_pareto
from bayesft_tune.seeds import stream_seed
from bayesft_tune.storage import resolve, write_table
from bayesft_tune.tasks import register_task, shipped_task
from bayesft_tune.tasks.checkpoint import load_state
from bayesft_tune.tasks.final import Candidate, FinalJob, Reference, erm_test_rows, train_reference
from bayesft_tune.tasks.kinds import kind_of
from bayesft_tune.tasks.final_parts import UnitCache
from bayesft_tune.tasks.spec import TrialSpec

__all__ = ["Prepared", "ahead_job", "candidates", "final_job", "final_tables", "in_thread", "min_clean", "ranked_trials",
           "reference", "runs_in_driver", "say", "start_reference", "write_pareto"]

T = TypeVar("T")


def say(cfg: SearchConfig, text: str) -> None:
    """A progress line on stderr (unless the search is quiet)."""
    if cfg.storage.verbose:
        print(f"bayesft-tune search: {text}", file=sys.stderr, flush=True)


def runs_in_driver(cfg: SearchConfig) -> bool:
    """Whether the jobs around the trials run in this process (a local CPU search) rather than as Ray tasks."""
    return cfg.resources.address is None and not cfg.resources.gpus_per_trial


def _call(cfg: SearchConfig, fn, *args):
    """Run a driver-side job (ERM reference, final job): in this process on a local CPU
    search (no fresh worker to start: 8 s per job as a Ray task vs 3-4 s in-process in
    bench/vs_plain_loop.py's first check), else as a Ray task where Ray places it (a GPU node)."""
    res = cfg.resources
    if runs_in_driver(cfg):
        before = torch.get_num_threads()
        try:
            return fn(*args)
        finally:
            torch.set_num_threads(before)  # the driver's GP steps keep their own thread count
    remote = ray.remote(num_cpus=res.cpus_per_trial, num_gpus=res.gpus_per_trial)(_carrying_task(fn, cfg.train.task))
    return ray.get(remote.remote(*args))


def _carrying_task(fn: Callable[..., T], ref: str) -> Callable[..., T]:
    """``fn``, made to register the Task of an ``object:`` reference in the Ray worker first
    (shipped by value with the function); ``fn`` itself for every other reference."""
    task = shipped_task(ref)
    if task is None:
        return fn

    def run(*args):
        register_task(ref, task)
        return fn(*args)
    return run


def _threads(cfg: SearchConfig) -> int:
    """Torch threads of a driver-side job. In the driver no trial runs beside it (the ERM
    reference comes before the trials, the final job after them), so it takes the CPUs
    the trials held: concurrency x CPUs per trial, at most this machine's (1 at
    concurrency 1, so the behaviour pin is unchanged). As a Ray task: the CPUs Ray gave it."""
    per_trial = max(1, int(cfg.resources.cpus_per_trial))
    if runs_in_driver(cfg):
        return max(1, min(os.cpu_count() or 1, cfg.searcher.concurrency * per_trial))
    return per_trial


@dataclass(frozen=True)
class Prepared:
    """What a search prepares before its trials: the ERM reference (None if the search has
    none) and, when computed ahead, ERM's rows of the test table and the trials' data split
    (shared with the trial workers; None: each worker loads it)."""

    reference: Reference | None
    erm_rows: pd.DataFrame | None
    splits: Splits | None = None


def reference(cfg: SearchConfig, spec: TrialSpec, run_dir: str) -> Reference | None:
    """The ERM reference: trained once per run and kept in the run directory."""
    wanted = cfg.final.erm_baseline or cfg.scoring.clean_guard is not None
    if not kind_of(spec.get_task()).guarded or not wanted:
        return None
    saved = rundir.load_reference(run_dir)
    if saved is not None:
        return saved
    say(cfg, f"training the ERM reference of the clean-accuracy guard ({spec.epochs} epochs)")
    trained = _call(cfg, train_reference, spec, "cpu", _threads(cfg))
    rundir.save_reference(trained, run_dir)
    return trained


def _erm_rows(cfg: SearchConfig, spec: TrialSpec, ref: Reference | None) -> pd.DataFrame | None:
    """ERM's rows of the test table (None without an ERM row), for :class:`FinalJob.erm_rows`."""
    fin = cfg.final
    if ref is None or not fin.erm_baseline:
        return None
    return erm_test_rows(spec, ref, tuple(fin.robustness_sigmas), fin.robustness_samples,
                         stream_seed(cfg.searcher.seed, "test"), threads=_threads(cfg))


def in_thread(fn: Callable[[], T], name: str) -> Callable[[], T]:
    """Run ``fn`` in a daemon thread of the driver now; returns the function that waits for
    its result (re-raising its error in the waiting thread)."""
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as error:  # noqa: BLE001  (re-raised in the waiting thread)
            box["error"] = error

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()

    def wait() -> T:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["result"]
    return wait


def start_reference(cfg: SearchConfig, spec: TrialSpec, run_dir: str) -> Callable[[], Prepared]:
    """Start the ERM reference now; returns the function that waits for it.

    On a local CPU search it trains in a daemon thread of the driver at once, and scores
    ERM's rows of the test table (they depend on nothing the trials find), so both overlap
    Ray's start-up (~3 s of process launches that leave the CPUs partly idle); call this
    before starting Ray. Elsewhere (a cluster, GPU trials) the reference is a Ray task
    started when the returned function is called, inside the Ray session, and the test
    rows come with the final job.
    """
    if not runs_in_driver(cfg):
        return lambda: Prepared(reference(cfg, spec, run_dir), None)

    def prepare() -> Prepared:
        ref = reference(cfg, spec, run_dir)
        return Prepared(ref, _call(cfg, _erm_rows, cfg, spec, ref), _trial_data(spec))
    return in_thread(prepare, "erm-reference")


def _trial_data(spec: TrialSpec) -> Splits | None:
    """The trials' data split, loaded once in the driver of a local CPU search (the reference
    loaded it already) for the trial workers: each worker loading its own copy cost ~1.2
    core-s at the start of its first trial (scikit-learn's import and the split, default
    search), while both cores were busy booting the workers. None for a detection task (its
    workers load their own images)."""
    return spec.splits() if kind_of(spec.get_task()).guarded else None


def min_clean(cfg: SearchConfig, ref: Reference | None) -> float | None:
    """The clean-accuracy floor: the user's, and ERM's minus the guard; the higher wins."""
    floor, guard = cfg.scoring.min_clean_accuracy, cfg.scoring.clean_guard
    floors = [floor] if floor is not None else []
    if ref is not None and guard is not None:
        floors.append(round(ref.clean_accuracy - guard, 6))
    return max(floors) if floors else None


def ranked_trials(trials: pd.DataFrame, direction: str, floor: float | None = None) -> pd.DataFrame:
    """Completed trials, best observed objective first; those meeting the clean-accuracy floor
    only, unless none does (the summary then warns)."""
    done = trials[trials.status == "completed"].dropna(subset=["objective_mean"])
    if floor is not None and (done.clean_accuracy >= floor).any():
        done = done[done.clean_accuracy >= floor]
    return done.sort_values("objective_mean", ascending=direction == "min")


def candidates(cfg: SearchConfig, spec: TrialSpec, trials: pd.DataFrame, grid, floor) -> tuple[Candidate, ...]:
    """The top trials offered to re-selection, their checkpoints loaded into memory (Tune's
    checkpoints may need Ray: call this before the session ends)."""
    top = ranked_trials(trials, spec.objective.direction, floor).head(cfg.final.reselect_top_k)
    checkpoints = {r.metrics.get("trial_id"): r.checkpoint for r in grid if r.checkpoint is not None}
    out = []
    for row in top.itertuples():
        if row.trial_id in checkpoints:
            with checkpoints[row.trial_id].as_directory() as d:
                out.append(Candidate(str(row.trial_id), float(row.objective_mean), load_state(d)))
    return tuple(out)


def final_job(cfg: SearchConfig, spec: TrialSpec, top: tuple[Candidate, ...], prepared: Prepared,
              floor: float | None) -> FinalJob:
    """The final job's inputs: re-select among ``top``, score the returned network (and ERM) on test."""
    fin, seed = cfg.final, cfg.searcher.seed
    return FinalJob(spec, top, fin.erm_baseline, prepared.reference, tuple(fin.robustness_sigmas),
                    fin.robustness_samples, stream_seed(seed, "reselect"), stream_seed(seed, "test"), floor,
                    threads=_threads(cfg), erm_rows=prepared.erm_rows)


def ahead_job(cfg: SearchConfig, spec: TrialSpec, prepared: Prepared, floor: float | None) -> FinalJob | None:
    """The final job's template for scoring ahead in the tail (:mod:`~bayesft_tune.search.tail`),
    or None where it does not apply: trials one at a time (no tail), the final job not in
    this process, or a kind of task whose final job does not re-select (detection)."""
    if cfg.searcher.concurrency < 2 or not runs_in_driver(cfg) or not kind_of(spec.get_task()).guarded:
        return None
    return final_job(cfg, spec, (), prepared, floor)


def final_tables(cfg: SearchConfig, spec: TrialSpec, top: tuple[Candidate, ...], prepared: Prepared,
                 floor: float | None, cache: UnitCache | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(robustness, selection)``: the top trials (:func:`candidates`) re-scored with fresh
    validation draws, and the returned network (and ERM) on the test split with independent
    draws (``cache``: units scored ahead in the driver, :mod:`~bayesft_tune.search.tail`)."""
    fin = cfg.final
    job = final_job(cfg, spec, top, prepared, floor)
    say(cfg, f"re-scoring the top {len(top)} trials with fresh validation draws; test table "
             f"(T = {fin.robustness_samples}, {_levels_text(spec.drift, fin.robustness_sigmas)})")
    pause_at("final")  # test hook (bayesft_tune/faults.py), off unless BAYESFT_PAUSE_AT is set
    return _call(cfg, functools.partial(run_final, cache=cache) if cache is not None else run_final, job)


def run_final(job: FinalJob, cache: UnitCache | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The final job of the job's kind of task (a plain function: Ray runs it as a task off the driver)."""
    return kind_of(job.spec.get_task()).final(job, cache)


def _levels_text(drift: str, levels) -> str:
    model = get_drift(drift)
    name = "t" if model.axis == "time" else "σ"
    return f"{name} = {', '.join(format_level(x, model.unit) for x in levels)}"


def write_pareto(cfg: SearchConfig, run_dir: str, trials: pd.DataFrame) -> pd.DataFrame:
    """``pareto.parquet`` and ``pareto.png`` of a multi-objective search."""
    pareto = pareto_table(run_dir, trials, cfg.searcher.seed)
    if not pareto.empty:
        write_table(pareto, run_dir, "pareto")
    fs, root = resolve(run_dir)
    with tempfile.TemporaryDirectory() as d:
        local = plot_pareto(trials, pareto, os.path.join(d, "pareto.png"))
        with open(local, "rb") as src, fs.open_output_stream(f"{root}/pareto.png") as dst:
            dst.write(src.read())
    return pareto
