"""One classification trial, independent of Ray: train the knobs' network, score it per epoch.

The Ray Tune trainable (``trainables.run_trial``) and a plain loop (``bench/vs_plain_loop.py``)
both run :class:`ClassificationTrial`; only how a report is delivered differs.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn

from bayesft_tune.data import Splits
from bayesft_tune.evaluation import as_batches, evaluate_under_drift, score_batches
from bayesft_tune.objective import Objective
from bayesft_tune.tasks.checkpoint import build_network
from bayesft_tune.tasks.space import Knobs
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.tasks.task import cached_data
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["ClassificationTrial", "Report", "cached_data", "describe", "drift_metrics"]

Report = Callable[[dict, bool], None]
"""``report(metrics, checkpoint)``: deliver one epoch's metrics; ``checkpoint`` says whether
this epoch carries the MC objective (and so a checkpoint)."""


def drift_metrics(model: nn.Module, data, objective: Objective, drift: str, seed: int,
                  samples: int | None = None) -> dict[str, float]:
    """The objective's metrics of ``model`` on ``data`` (MC draws seeded by ``seed``)."""
    frame = evaluate_under_drift(model, data, objective.eval_sigmas, samples=samples or objective.samples,
                                 drift=drift, seed=seed)
    return objective.score(frame)


def describe(task_slots: list[str], knobs: Knobs, lr: float, model: nn.Module) -> dict:
    """What a trial reports about its network: knobs (lr resolved), slot names, parameter count."""
    return {"knobs": {**knobs.to_dict(), "lr": float(lr)}, "slots": list(task_slots),
            "parameter_count": sum(p.numel() for p in model.parameters())}


class ClassificationTrial:
    """Train one trial's network epoch by epoch and report clean and drifted validation scores.

    Args:
        spec: the search's shared trial spec.
        knobs: this trial's knobs.
        device: where to train.
        splits: the task's data split as :func:`cached_data` loads it for ``spec``, when the
            caller holds it already (a search's driver shares its copy); None loads it here.
    """

    def __init__(self, spec: TrialSpec, knobs: Knobs, device: torch.device, splits: Splits | None = None) -> None:
        self.spec, self.knobs, self.device = spec, knobs, device
        task = spec.get_task()
        self.splits = splits if splits is not None else spec.splits()
        torch.manual_seed(spec.train_seed)
        self.model = build_network(task, knobs)
        cfg = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=knobs.lr or spec.lr,
                          weight_decay=knobs.weight_decay, noise_injection=knobs.noise,
                          noise_drift=spec.drift, noise_level=spec.objective.target_sigma)
        self.trainer = Trainer(self.model, self.splits.train, cfg, seed=spec.train_seed, device=device)
        self.val = as_batches(self.splits.val, task.eval_batch_size, device)
        self.description = describe(task.slots(), knobs, cfg.lr, self.model)

    def run(self, report: Report) -> None:
        """Train the remaining epochs; report after each (the MC objective on ``eval_epochs``)."""
        start = time.perf_counter()
        while self.trainer.epochs_done < self.spec.epochs:
            train_loss = self.trainer.epoch()
            clean_loss, clean_acc = score_batches(self.model.eval(), self.val)
            evaluated = self.trainer.epochs_done in self.spec.eval_epochs
            metrics = {"epoch": self.trainer.epochs_done, "train_loss": train_loss, "clean_loss": clean_loss,
                       "clean_accuracy": clean_acc, "drift_evaluated": evaluated, "device": str(self.device),
                       **self.description}
            if evaluated:
                metrics.update(drift_metrics(self.model, self.splits.val, self.spec.objective,
                                             self.spec.drift, self.spec.select_seed))
            metrics["time_s"] = time.perf_counter() - start
            if self.device.type == "cuda":
                metrics["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
            report(metrics, evaluated)
