"""Trainable: Mask R-CNN (ResNet-50-FPN, random init) on PennFudanPed pedestrians.

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

from trainables._common import (Task, _report, _restore, cached_data, get_task,
                                rates_from_config, register_task, scores_from_frame,
                                set_threads_from_resources, trial_device)


def _as_classification(frame: pd.DataFrame) -> pd.DataFrame:
    """Detection rows -> the classification column names: accuracy = mAP, loss = 1 - mAP."""
    return frame.assign(accuracy=frame["map"], loss=1.0 - frame["map"])


def _drift_frame(model, data, config: dict, sigmas, samples: int) -> pd.DataFrame:
    from bayesft_tune.detection import evaluate_detection_under_drift

    task = get_task(config["task"])
    frame = evaluate_detection_under_drift(model, data, sigmas, samples=samples, drift=config["drift"],
                                           seed=int(config["eval_seed"]), batch_size=task.eval_batch_size)
    return _as_classification(frame)


def _trainer(task: Task, model, splits, config: dict, device):
    from bayesft_tune.detection import DetectionTrainer

    return DetectionTrainer(model, splits.train, int(config["epochs"]), int(config["batch_size"]),
                            float(config["lr"]), seed=int(config["seed"]), device=device)


def train_detection(config: dict) -> None:
    """Function trainable: train the dropout-augmented detector, report drifted mAP each epoch."""
    from bayesft_tune.detection import detection_batches, score_detection
    from bayesft_tune.dropout import add_dropout

    start = time.perf_counter()
    set_threads_from_resources()
    task, device = get_task(config["task"]), trial_device()
    splits = cached_data(task.dataset, config.get("data_dir"), bool(config.get("download")),
                         int(config["data_seed"]))
    torch.manual_seed(int(config["seed"]))
    model = add_dropout(task.build(), rates_from_config(task, config))
    trainer = _trainer(task, model, splits, config, device)
    _restore(trainer)
    val = detection_batches(splits.val, task.eval_batch_size, device)
    sigmas = sorted({float(config["target_sigma"]), *map(float, config.get("objective_sigmas") or [])})
    while trainer.epochs_done < trainer.epochs:
        train_loss = trainer.epoch()
        clean_map, _ = score_detection(model.eval(), val)
        frame = _drift_frame(model, splits.val, config, sigmas, int(config["samples"]))
        metrics = {"epoch": trainer.epochs_done, "train_loss": train_loss, "clean_loss": 1.0 - clean_map,
                   "clean_accuracy": clean_map, **scores_from_frame(frame, config),
                   "device": str(device), "time_s": time.perf_counter() - start}
        _report(trainer, config, metrics)


def _curve(model, data, constants: dict, sigmas, samples: int, method: str, trial_id) -> pd.DataFrame:
    from bayesft_tune.evaluation import summarize_drift

    out = summarize_drift(_drift_frame(model, data, constants, sigmas, samples))
    for i, (col, value) in enumerate((("method", method), ("trial_id", trial_id), ("split", "test"),
                                      ("drift", constants["drift"]))):
        out.insert(i, col, value)
    return out


def detection_robustness(constants: dict, sigmas: list[float], samples: int, best_checkpoint,
                         best_trial_id, erm: bool, threads: int = 1) -> pd.DataFrame:
    """Robustness rows (schema ``ROBUSTNESS``; accuracy = mAP, loss = 1 - mAP) of the best
    trial's checkpoint and, if ``erm``, of the same detector trained without dropout."""
    from bayesft_tune.search.robustness import best_and_erm

    return best_and_erm(get_task(constants["task"]), constants, sigmas, samples, best_checkpoint,
                        best_trial_id, erm, threads, curve=_curve, train_erm=_train_erm)


def _train_erm(task: Task, splits, constants: dict, device):
    torch.manual_seed(int(constants["seed"]))
    trainer = _trainer(task, task.build(), splits, constants, device)
    for _ in range(trainer.epochs):
        trainer.epoch()
    return trainer.model


TASK = Task(name="pennfudan_maskrcnn", model="maskrcnn", dataset="pennfudan", epochs=10, batch_size=2,
            lr=0.005, eval_batch_size=4, model_kwargs={"backbone": "resnet50_fpn"},
            smoke={"batch_size": 2, "eval_batch_size": 2,
                   "model_kwargs": {"backbone": "tiny", "min_size": 64, "max_size": 96,
                                    "mask_layers": (16, 16, 16, 16)}},
            trainable=train_detection, robustness=detection_robustness,
            description="Mask R-CNN ResNet-50-FPN (random init), PennFudanPed, 3 x H x W, SGD")
trainable = register_task(TASK, train_detection)
