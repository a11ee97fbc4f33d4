"""The search's final robustness table: best trial vs an ERM model over the σ grid."""

from __future__ import annotations

import os

import pandas as pd
import torch

from bayesft_tune.dropout import add_dropout
from bayesft_tune.evaluation import evaluate_under_drift, summarize_drift
from bayesft_tune.training import TrainConfig, Trainer


def _curve(model, data, constants: dict, sigmas: list[float], samples: int, method: str,
           trial_id: str | None) -> pd.DataFrame:
    frame = evaluate_under_drift(model, data, sigmas, samples=samples, drift=constants["drift"],
                                 seed=int(constants["eval_seed"]))
    out = summarize_drift(frame)
    out.insert(0, "method", method)
    out.insert(1, "trial_id", trial_id)
    out.insert(2, "split", "test")
    out.insert(3, "drift", constants["drift"])
    return out


def checkpoint_model(task, checkpoint):
    """The network a trial's Tune checkpoint holds: the task's model with the trial's dropout
    rates and trained weights, on CPU."""
    from trainables._common import CHECKPOINT_FILE

    with checkpoint.as_directory() as d:
        state = torch.load(os.path.join(d, CHECKPOINT_FILE), weights_only=True, map_location="cpu")
    model = add_dropout(task.build(), state["rates"])
    model.load_state_dict(state["trainer"]["model"])
    return model


def robustness_job(constants: dict, sigmas: list[float], samples: int, best_checkpoint,
                   best_trial_id: str | None, erm: bool, threads: int = 1) -> pd.DataFrame:
    """Evaluate the best trial's checkpoint and (optionally) a freshly trained ERM model.

    Runs where Ray places it (the GPU of a worker node on a cluster). The ERM model is
    the same task, epochs, batch size, learning rate and seed with no dropout.

    Returns:
        Rows of the robustness table (schema ``ROBUSTNESS``), methods ``bayesft`` and ``erm``.
    """
    from trainables._common import get_task

    task = get_task(constants["task"])
    if task.robustness is not None:  # e.g. detection tasks score mAP (trainables/pennfudan_maskrcnn.py)
        return task.robustness(constants, sigmas, samples, best_checkpoint, best_trial_id, erm, threads)
    return best_and_erm(task, constants, sigmas, samples, best_checkpoint, best_trial_id, erm,
                        threads, curve=_curve, train_erm=_train_erm)


def _train_erm(task, splits, constants: dict, device) -> torch.nn.Module:
    torch.manual_seed(int(constants["seed"]))
    model = task.build()
    cfg = TrainConfig(epochs=int(constants["epochs"]), batch_size=int(constants["batch_size"]),
                      lr=float(constants["lr"]))
    trainer = Trainer(model, splits.train, cfg, seed=int(constants["seed"]), device=device)
    for _ in range(cfg.epochs):
        trainer.epoch()
    return model


def best_and_erm(task, constants: dict, sigmas: list[float], samples: int, best_checkpoint,
                 best_trial_id: str | None, erm: bool, threads: int, curve, train_erm) -> pd.DataFrame:
    """Score the best trial's checkpoint and (if ``erm``) a model trained without dropout.

    Args:
        curve: ``(model, data, constants, sigmas, samples, method, trial_id) -> rows``.
        train_erm: ``(task, splits, constants, device) -> trained model`` (same budget, no dropout).
    """
    from trainables._common import cached_data, trial_device

    torch.set_num_threads(max(1, threads))
    device = trial_device()
    splits = cached_data(task.dataset, constants["data_dir"], bool(constants["download"]),
                         int(constants["data_seed"]))
    parts = []
    if best_checkpoint is not None:
        model = checkpoint_model(task, best_checkpoint)
        parts.append(curve(model.to(device), splits.test, constants, sigmas, samples, "bayesft",
                           best_trial_id))
    if erm:
        parts.append(curve(train_erm(task, splits, constants, device), splits.test, constants,
                           sigmas, samples, "erm", None))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
