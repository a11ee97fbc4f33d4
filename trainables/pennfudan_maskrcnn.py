"""Trainable of ``pennfudan_maskrcnn``: Mask R-CNN (ResNet-50-FPN, random init) on PennFudanPed.

Dropout slots are the RoI heads' (box head ``fc6``/``fc7``, mask head convs; see
:mod:`bayesft_tune.zoo.detection`). The search's metric names are kept, with
detection meanings: ``drifted_loss`` = **1 - box mAP@[.5:.95]** under drift at the
target σ (mean over the T samples; minimised), ``drifted_loss_sem`` its standard
error, ``drifted_accuracy`` (+ ``_sem``) the drifted mAP, ``clean_accuracy`` the
clean validation mAP, ``clean_loss`` = 1 - clean mAP, ``train_loss`` the summed
Mask R-CNN training loss per image. The robustness table uses the same mapping.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from bayesft_tune.detection import (DetectionTrainer, detection_batches, evaluate_detection_under_drift,
                                    score_detection)
from bayesft_tune.drift_summary import summarize_drift
from bayesft_tune.tasks.checkpoint import build_network, model_from_state
from bayesft_tune.tasks.final import FinalJob
from bayesft_tune.tasks.spec import TrialSpec
from bayesft_tune.tasks.trial import describe
from trainables._common import report, restore, set_threads_from_resources, trial_device

__all__ = ["detection_robustness", "train_detection"]


def _drift_frame(model, data, spec: TrialSpec, sigmas, samples: int, seed: int) -> pd.DataFrame:
    """Detection rows with the classification column names: accuracy = mAP, loss = 1 - mAP."""
    frame = evaluate_detection_under_drift(model, data, sigmas, samples=samples, drift=spec.drift, seed=seed,
                                           batch_size=spec.get_task().eval_batch_size)
    return frame.assign(accuracy=frame["map"], loss=1.0 - frame["map"])


def _trainer(spec: TrialSpec, model, splits, device) -> DetectionTrainer:
    return DetectionTrainer(model, splits.train, spec.epochs, spec.batch_size, spec.lr,
                            seed=spec.train_seed, device=device)


def train_detection(config: dict) -> None:
    """Function trainable: train the dropout-augmented detector, report drifted mAP on eval epochs."""
    start = time.perf_counter()
    set_threads_from_resources()
    spec, device = TrialSpec.from_config(config), trial_device()
    task, knobs = spec.get_task(), spec.knobs(config)
    splits = spec.splits()
    torch.manual_seed(spec.train_seed)
    trainer = _trainer(spec, build_network(task, knobs), splits, device)
    restore(trainer)
    description = describe(task.slots(), knobs, spec.lr, trainer.model)
    val = detection_batches(splits.val, task.eval_batch_size, device)
    while trainer.epochs_done < trainer.epochs:
        train_loss = trainer.epoch()
        clean_map, _ = score_detection(trainer.model.eval(), val)
        evaluated = trainer.epochs_done in spec.eval_epochs
        metrics = {"epoch": trainer.epochs_done, "train_loss": train_loss, "clean_loss": 1.0 - clean_map,
                   "clean_accuracy": clean_map, "drift_evaluated": evaluated, "device": str(device),
                   **description}
        if evaluated:
            frame = _drift_frame(trainer.model, splits.val, spec, spec.objective.eval_sigmas,
                                 spec.objective.samples, spec.select_seed)
            metrics.update(spec.objective.score(frame))
        metrics["time_s"] = time.perf_counter() - start
        report(trainer, spec, knobs, metrics, evaluated)


def _rows(model, data, job: FinalJob, method: str, trial_id) -> pd.DataFrame:
    out = summarize_drift(_drift_frame(model, data, job.spec, list(job.sigmas), job.samples, job.test_seed))
    for i, (col, value) in enumerate((("method", method), ("trial_id", trial_id), ("split", "test"),
                                      ("drift", job.spec.drift), ("data_seed", job.spec.data_seed))):
        out.insert(i, col, value)
    return out


def detection_robustness(job: FinalJob) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Robustness rows (accuracy = mAP, loss = 1 - mAP) of the best observed trial and, if
    ``job.erm``, of the same detector trained without dropout; no re-selection."""
    torch.set_num_threads(max(1, job.threads))
    spec, task = job.spec, job.spec.get_task()
    splits = spec.splits()
    parts, selection = [], pd.DataFrame()
    if job.candidates:
        best = job.candidates[0]
        parts.append(_rows(model_from_state(best.state), splits.test, job, "bayesft", best.trial_id))
        selection = pd.DataFrame([{"trial_id": best.trial_id, "observed_rank": 0, "observed": best.objective,
                                   "chosen": True}])
    if job.erm:
        torch.manual_seed(spec.train_seed)
        trainer = _trainer(spec, task.build(), splits, job.device)
        for _ in range(trainer.epochs):
            trainer.epoch()
        parts.append(_rows(trainer.model.eval(), splits.test, job, "erm", None))
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), selection
