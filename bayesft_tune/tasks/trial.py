"""One trial of any task, independent of Ray: train the knobs' network, score it per epoch.

The Ray Tune trainable (``trainables.run_trial``) and a plain loop (``bench/vs_plain_loop.py``)
both run :class:`Trial`; only how a report is delivered differs.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn

from bayesft_tune.data import Splits
from bayesft_tune.evaluation import evaluate_under_drift
from bayesft_tune.objective import Objective
from bayesft_tune.tasks.checkpoint import build_network
from bayesft_tune.tasks.kinds import kind_of
from bayesft_tune.tasks.space import Knobs
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.tasks.task import cached_data

__all__ = ["Report", "Trial", "cached_data", "describe", "drift_metrics"]

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


class Trial:
    """Train one trial's network epoch by epoch and report clean and drifted validation scores,
    for every kind of task (:mod:`~bayesft_tune.tasks.kinds`).

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
        self.kind = kind_of(task)
        self.splits = splits if splits is not None else spec.splits()
        torch.manual_seed(spec.train_seed)
        self.model = build_network(task, knobs)
        self.trainer = self.kind.trainer(spec, knobs, self.model, self.splits.train, device)
        self.val = self.kind.batches(self.splits.val, task.eval_batch_size, device)
        self.description = describe(task.slots(), knobs, knobs.lr or spec.lr, self.model)

    def run(self, report: Report) -> None:
        """Train the remaining epochs; report after each (the MC objective on ``eval_epochs``)."""
        start, spec = time.perf_counter(), self.spec
        while self.trainer.epochs_done < spec.epochs:
            train_loss = self.trainer.epoch()
            clean_loss, clean_acc = self.kind.clean(self.model.eval(), self.val)
            evaluated = self.trainer.epochs_done in spec.eval_epochs
            metrics = {"epoch": self.trainer.epochs_done, "train_loss": train_loss, "clean_loss": clean_loss,
                       "clean_accuracy": clean_acc, "drift_evaluated": evaluated, "device": str(self.device),
                       **self.description}
            if evaluated:
                frame = self.kind.drift_frame(self.model, self.splits.val, spec, spec.objective.eval_sigmas,
                                              spec.objective.samples, spec.select_seed)
                metrics.update(spec.objective.score(frame))
            metrics["time_s"] = time.perf_counter() - start
            if self.device.type == "cuda":
                metrics["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
            report(metrics, evaluated)
