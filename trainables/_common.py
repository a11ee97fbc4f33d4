"""The Ray Tune side of a trial: threads, device, checkpoints, warm start and reports.

Everything else (what a trial trains and measures) is Ray-free, in
:mod:`bayesft_tune.tasks.trial`.
"""

from __future__ import annotations

import tempfile
from typing import Callable

import ray
import torch
from ray import tune

from bayesft_tune.data import Splits
from bayesft_tune.run_dir import RunDir
from bayesft_tune.storage import resolve as resolve_uri
from bayesft_tune.tasks.checkpoint import load_state, save_state
from bayesft_tune.tasks.source import register_task
from bayesft_tune.tasks.space import Knobs
from bayesft_tune.tasks.task import Task
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.tasks.trial import Trial
from bayesft_tune.training import Trainer

__all__ = ["EARLIER_EPOCHS", "WARM_START_CHECKPOINT", "WARM_START_FROM", "EpochBatcher", "report",
           "restore", "run_trial", "set_threads_from_resources", "trial_device"]

WARM_START_CHECKPOINT = "warm_start_checkpoint"
"""Config key: the checkpoint a warm-started trial loads its weights from, relative to the run
directory (``trial_<id>/checkpoint_<n>``): the directory may move before a resume."""
WARM_START_FROM = "warm_start_from"
"""Config key: the trial id that checkpoint belongs to."""
EARLIER_EPOCHS = "earlier_epochs"
"""Result key: the epochs trained since the previous report, oldest first, each a dict of
that epoch's own metrics (``epoch``, ``time_s``, losses, clean accuracy)."""


def trial_device() -> torch.device:
    """The GPU Ray assigned to this trial, else CPU."""
    if torch.cuda.is_available() and ray.get_gpu_ids():
        return torch.device("cuda", 0)  # Ray sets CUDA_VISIBLE_DEVICES to the assigned GPU
    return torch.device("cpu")


def set_threads_from_resources() -> int:
    """torch threads = CPUs this trial holds (oversubscribing 2 cores slowed training 30x)."""
    resources = tune.get_context().get_trial_resources()
    if resources is None:  # called outside a Tune trial (e.g. a direct call in a test): leave torch be
        return torch.get_num_threads()
    threads = max(1, int(resources.required_resources.get("CPU", 1)))
    torch.set_num_threads(threads)
    return threads


def restore(trainer: Trainer) -> None:
    """Resume ``trainer`` from the trial's own Tune checkpoint, if Tune hands one back."""
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            trainer.load_state_dict(load_state(d, trainer.device)["trainer"])


def warm_start(trainer: Trainer, config: dict) -> dict:
    """Algorithm 1 (``mode: warm_start``): start from the best finished trial's weights.

    Only the network's weights are loaded (fresh optimiser, ``epochs`` more epochs with
    this trial's knobs); a trial resuming from its own checkpoint ignores it. Returns the
    metrics to report (``warm_start_from``: source trial id, "" if none), or ``{}`` when
    the search does not warm-start.
    """
    if WARM_START_CHECKPOINT not in config:
        return {}
    source, ckpt = config.get(WARM_START_FROM) or "", config.get(WARM_START_CHECKPOINT)
    if ckpt is None:  # nothing finished yet: this trial starts from scratch
        return {WARM_START_FROM: ""}
    if trainer.epochs_done > 0 or tune.get_checkpoint() is not None:  # resumed: weights already derive from source
        return {WARM_START_FROM: str(source)}
    run = RunDir.here() or RunDir(tune.get_context().get_storage().experiment_fs_path)
    fs, path = resolve_uri(run.join(ckpt))
    with tune.Checkpoint(path=path, filesystem=fs).as_directory() as d:
        trainer.model.load_state_dict(load_state(d, trainer.device)["trainer"]["model"])
    return {WARM_START_FROM: str(source)}


def report(trainer: Trainer, spec: TrialSpec, knobs: Knobs, metrics: dict, checkpoint: bool) -> None:
    """``tune.report`` the metrics, with a checkpoint when ``checkpoint`` (an evaluated epoch)."""
    if not checkpoint:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory() as d:
        save_state(d, trainer.state_dict(), spec.task, knobs)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


class EpochBatcher:
    """One ``tune.report`` per evaluated epoch, carrying the epochs trained since the last.

    A function trainable's report is synchronous: the training thread waits until the
    driver has processed the result (callbacks, searcher, scheduler) and asked for the
    next. Reporting every epoch made a 10-epoch MLP trial wait ten round trips; the
    epochs between evaluated ones carry no objective and no checkpoint, so they ride along
    in the next report under :data:`EARLIER_EPOCHS` (the recorder writes one history row
    each). ASHA rungs and the last epoch are evaluated epochs, so every decision point
    and every checkpoint is still reported as it happens.

    Args:
        deliver: ``deliver(metrics, checkpoint)`` sends one report.
        shared_keys: keys of a metrics dict that are the same every epoch (the network's
            description): sent with the report, not repeated per earlier epoch.
        last_epoch: the trial's final epoch, always reported.
    """

    def __init__(self, deliver: Callable[[dict, bool], None], shared_keys: set[str], last_epoch: int) -> None:
        self.deliver, self.shared_keys, self.last_epoch = deliver, shared_keys, last_epoch
        self.pending: list[dict] = []

    def __call__(self, metrics: dict, checkpoint: bool) -> None:
        if not checkpoint and metrics["epoch"] < self.last_epoch:
            self.pending.append({k: v for k, v in metrics.items() if k not in self.shared_keys})
            return
        batch, self.pending = self.pending, []
        self.deliver({**metrics, EARLIER_EPOCHS: batch}, checkpoint)


def run_trial(config: dict, splits: Splits | None = None, task: Task | None = None) -> None:
    """Function trainable of every task: ``config`` is ``TrialSpec.to_config(params)``.

    ``splits``: the task's data split when the search's driver shares the copy it loaded
    (``tune.with_parameters``: one copy in Ray's object store); None: the worker loads it.
    ``task``: the Task of an ``object:``
    reference, shipped by value (every other reference resolves in the worker)."""
    spec = TrialSpec.from_config(config)
    if task is not None:
        register_task(spec.task, task)
    set_threads_from_resources()
    knobs = spec.knobs(config)
    trial = Trial(spec, knobs, trial_device(), splits)
    restore(trial.trainer)
    warm = warm_start(trial.trainer, config)
    batcher = EpochBatcher(lambda metrics, ckpt: report(trial.trainer, spec, knobs, {**metrics, **warm}, ckpt),
                           shared_keys={*trial.description, "device"}, last_epoch=spec.epochs)
    trial.run(batcher)

