"""What every BayesFT trainable does: train a dropout-augmented network and report,
after each epoch, its clean and Monte Carlo drifted validation scores with a checkpoint."""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from bayesft_tune.data import Splits, load_data
from bayesft_tune.dropout import add_dropout, dropout_slots, slot_parameter_name
from bayesft_tune.evaluation import evaluate_under_drift, summarize_drift
from bayesft_tune.models import build_model
from bayesft_tune.training import TrainConfig, Trainer

CHECKPOINT_FILE = "trial.pt"
_SLOT_CACHE: dict[tuple[str, str], list[str]] = {}
SMOKE_ENV = "BAYESFT_SMOKE"
"""Set to ``1`` (in the driver and, e.g. via ``runtime_env``, the Ray workers) to run every
task in its tiny CPU smoke configuration (:attr:`Task.smoke`)."""


@dataclass(frozen=True)
class Task:
    """A trainable task: a registered model on a registered dataset with default budget.

    Attributes:
        name: task name used by ``--task``.
        model: model registry name; ``model_kwargs`` are passed to its builder.
        dataset: dataset registry name.
        epochs, batch_size, lr: default training budget.
        eval_batch_size: batch size of the validation passes.
        smoke: field overrides (e.g. ``model_kwargs``, ``batch_size``) of the tiny CPU
            configuration used when ``BAYESFT_SMOKE=1``; they must keep the slot names.
        trainable: task-specific function trainable (None: :func:`run_trial`'s
            classification path); :func:`run_trial` dispatches to it.
        robustness: task-specific final robustness job (same signature as
            ``bayesft_tune.search.robustness.robustness_job``; None: the classification one).
        description: one line for listings (model, dataset, input).
    """

    name: str
    model: str
    dataset: str
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_batch_size: int = 1024
    smoke: dict[str, Any] = field(default_factory=dict)
    trainable: Callable[[dict], None] | None = None
    robustness: Callable[..., Any] | None = None
    description: str = ""

    def smoke_variant(self) -> "Task":
        """This task with its :attr:`smoke` overrides applied."""
        return dataclasses.replace(self, **self.smoke)

    def build(self) -> nn.Module:
        """A fresh network, seeded by the caller's torch RNG."""
        return build_model(self.model, **self.model_kwargs)

    def slots(self) -> list[str]:
        """Dropout slot names of this task's network (built once per model configuration)."""
        key = (self.model, repr(sorted(self.model_kwargs.items())))
        if key not in _SLOT_CACHE:
            _SLOT_CACHE[key] = dropout_slots(self.build())
        return list(_SLOT_CACHE[key])

    def parameter_names(self) -> list[str]:
        """Search-space parameter names, one per slot."""
        return [slot_parameter_name(s) for s in self.slots()]


@functools.lru_cache(maxsize=4)
def cached_data(dataset: str, data_dir: str | None, download: bool, seed: int) -> Splits:
    """Load a dataset once per worker process (trials reuse actors)."""
    return load_data(dataset, root=data_dir, download=download, seed=seed)


def trial_device() -> torch.device:
    """The GPU Ray assigned to this trial, else CPU."""
    import ray

    if torch.cuda.is_available() and ray.get_gpu_ids():
        return torch.device("cuda", 0)  # Ray sets CUDA_VISIBLE_DEVICES to the assigned GPU
    return torch.device("cpu")


def set_threads_from_resources() -> int:
    """torch threads = CPUs this trial holds (oversubscribing 2 cores slowed training 30x)."""
    from ray import tune

    resources = tune.get_context().get_trial_resources()
    if resources is None:  # called outside a Tune trial (e.g. a direct call in a test): leave torch be
        return torch.get_num_threads()
    threads = max(1, int(resources.required_resources.get("CPU", 1)))
    torch.set_num_threads(threads)
    return threads


def drift_scores(model: nn.Module, data, config: dict) -> dict[str, float]:
    """Objective metrics: MC drifted loss/accuracy at the target σ, and mean accuracy over the grid."""
    sigmas = sorted({float(config["target_sigma"]), *map(float, config.get("objective_sigmas") or [])})
    frame = evaluate_under_drift(model, data, sigmas, samples=int(config["samples"]),
                                 drift=config["drift"], seed=int(config["eval_seed"]))
    return scores_from_frame(frame, config)


def scores_from_frame(frame, config: dict) -> dict[str, float]:
    """The objective metrics of :func:`drift_scores` from a tidy ``sigma, sample, loss, accuracy`` frame."""
    s = summarize_drift(frame).set_index("sigma").loc[float(config["target_sigma"])]
    out = {"drifted_loss": float(s.loss_mean), "drifted_loss_sem": float(s.loss_sem),
           "drifted_accuracy": float(s.accuracy_mean), "drifted_accuracy_sem": float(s.accuracy_sem)}
    if config.get("objective_sigmas"):
        grid = frame[frame.sigma.isin([float(v) for v in config["objective_sigmas"]])]
        per_sample = grid.groupby("sample").accuracy.mean()  # mean over σ, per MC sample
        out["grid_accuracy"] = float(per_sample.mean())
        out["grid_accuracy_sem"] = float(per_sample.std(ddof=1) / len(per_sample) ** 0.5)
    return out


def rates_from_config(task: Task, config: dict) -> list[float]:
    """The trial's dropout vector, in slot order."""
    return [float(config[name]) for name in task.parameter_names()]


def _restore(trainer: Trainer) -> None:
    from ray import tune

    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(os.path.join(d, CHECKPOINT_FILE), weights_only=True,
                               map_location=trainer.device)
        trainer.load_state_dict(state["trainer"])


def _warm_start(trainer: Trainer, config: dict) -> dict:
    """Algorithm 1 (``mode: warm_start``): start from the best finished trial's weights.

    Only the network's weights are loaded (fresh optimiser, ``epochs`` more epochs with
    this trial's dropout vector); a trial resuming from its own checkpoint ignores it.
    Returns the metrics to report (``warm_start_from``: source trial id, "" if none),
    or ``{}`` when the search does not warm-start.
    """
    from ray import tune

    if "warm_start_checkpoint" not in config:
        return {}
    source, ckpt = config.get("warm_start_from") or "", config.get("warm_start_checkpoint")
    if ckpt is None:  # nothing finished yet: this trial starts from scratch
        return {"warm_start_from": ""}
    if trainer.epochs_done > 0 or tune.get_checkpoint() is not None:  # resumed: weights already derive from source
        return {"warm_start_from": str(source)}
    with ckpt.as_directory() as d:
        state = torch.load(os.path.join(d, CHECKPOINT_FILE), weights_only=True, map_location=trainer.device)
    trainer.model.load_state_dict(state["trainer"]["model"])
    return {"warm_start_from": str(source)}


def _report(trainer: Trainer, config: dict, metrics: dict) -> None:
    from ray import tune

    with tempfile.TemporaryDirectory() as d:
        torch.save({"trainer": trainer.state_dict(), "task": config["task"],
                    "rates": rates_from_config(get_task(config["task"]), config)},
                   os.path.join(d, CHECKPOINT_FILE))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def run_trial(config: dict) -> None:
    """Function trainable shared by every classification task (see ``trainables/<task>.py``)."""
    from bayesft_tune.evaluation import _as_batches, _score_loop

    task = get_task(config["task"])
    if task.trainable is not None:
        return task.trainable(config)
    start = time.perf_counter()
    set_threads_from_resources()
    device = trial_device()
    splits = cached_data(task.dataset, config.get("data_dir"), bool(config.get("download")),
                         int(config["data_seed"]))
    torch.manual_seed(int(config["seed"]))
    model = add_dropout(task.build(), rates_from_config(task, config))
    train_cfg = TrainConfig(epochs=int(config["epochs"]), batch_size=int(config["batch_size"]),
                            lr=float(config["lr"]), noise_injection=float(config.get("noise_injection", 0.0)))
    trainer = Trainer(model, splits.train, train_cfg, seed=int(config["seed"]), device=device)
    _restore(trainer)
    warm = _warm_start(trainer, config)
    val = _as_batches(splits.val, int(config.get("eval_batch_size", task.eval_batch_size)), device)
    while trainer.epochs_done < train_cfg.epochs:
        train_loss = trainer.epoch()
        clean_loss, clean_acc = _score_loop(model.eval(), val)
        metrics = {"epoch": trainer.epochs_done, "train_loss": train_loss, "clean_loss": clean_loss,
                   "clean_accuracy": clean_acc, **drift_scores(model, splits.val, config),
                   "device": str(device), "time_s": time.perf_counter() - start, **warm}
        if device.type == "cuda":
            metrics["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        _report(trainer, config, metrics)


TASKS: dict[str, Task] = {}


def register_task(task: Task, trainable: Callable[[dict], None] = run_trial) -> Callable[[dict], None]:
    """Add a task to the registry; returns its trainable."""
    TASKS[task.name] = task
    return trainable


def get_task(name: str) -> Task:
    """Look up a registered task (its smoke variant if ``BAYESFT_SMOKE=1``); the error lists the names."""
    from bayesft_tune.errors import UserInputError

    if name not in TASKS:
        raise UserInputError(f"unknown task {name!r}; registered tasks are {sorted(TASKS)}. "
                             "Pass one with --task.")
    return TASKS[name].smoke_variant() if os.environ.get(SMOKE_ENV) == "1" else TASKS[name]
