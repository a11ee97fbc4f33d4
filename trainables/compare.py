"""Trainable of ``bayesft-tune compare``: train one (method, seed) and score it over the σ grid.

The trial reports the test-split robustness summary (schema ``ROBUSTNESS`` rows, as
JSON text in ``robustness_json``); the driver collects them into ``robustness.parquet``.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bayesft_tune.evaluation import evaluate_under_drift, summarize_drift

__all__ = ["compare_trial", "robustness_rows"]


def robustness_rows(model: nn.Module, data, config: dict, label: str) -> pd.DataFrame:
    """Summary over ``config["sigmas"]`` with ``samples`` draws, seeded by ``eval_seed``.

    Every method of one seed uses the same ``eval_seed``, so their curves share the
    same drift draws (common random numbers). ``trial_id`` holds ``label`` (the seed).
    """
    frame = evaluate_under_drift(model, data, [float(s) for s in config["sigmas"]],
                                 samples=int(config["samples"]), drift=config["drift"],
                                 seed=int(config["eval_seed"]))
    out = summarize_drift(frame)
    for i, (col, value) in enumerate([("method", config["method"]), ("trial_id", label),
                                      ("split", "test"), ("drift", config["drift"])]):
        out.insert(i, col, value)
    return out


def compare_trial(config: dict) -> None:
    """Function trainable: ``config`` has task, method, seed, epochs, batch_size, lr,
    sigmas, samples, drift, eval_seed and ``method_options`` (MethodConfig fields)."""
    from ray import tune

    from bayesft_tune.methods import MethodConfig, get_method
    from trainables._common import cached_data, get_task, set_threads_from_resources, trial_device

    set_threads_from_resources()
    task, device, seed = get_task(config["task"]), trial_device(), int(config["seed"])
    splits = cached_data(task.dataset, config.get("data_dir"), False, int(config.get("data_seed", 0)))
    cfg = MethodConfig(epochs=int(config["epochs"]), batch_size=int(config["batch_size"]),
                       lr=float(config["lr"]), **dict(config.get("method_options") or {}))
    model = get_method(config["method"]).fit(task.build, splits.train, splits.val, cfg, seed, device)
    rows = robustness_rows(model.to(torch.device("cpu")), splits.test,
                           {**config, "eval_seed": int(config["eval_seed"]) + seed}, f"seed{seed}")
    tune.report({"robustness_json": rows.to_json(orient="records"), "method": config["method"],
                 "seed": seed})
