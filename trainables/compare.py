"""Trainable of ``bayesft-tune compare``: train one (method, seed) and score it on test.

Every method of a comparison trains on the same split (``data_seed``) and is scored on
its test split with the seed's ``test`` draws (common random numbers across methods,
independent of every draw used for selection). The trial reports its ``ROBUSTNESS``
rows as JSON text (``robustness_json``); the driver collects them.
"""

from __future__ import annotations

import json

import torch
from ray import tune

from bayesft_tune.dropout import add_dropout
from bayesft_tune.methods import MethodConfig, get_method
from bayesft_tune.objective import Objective
from bayesft_tune.seeds import stream_seed
from bayesft_tune.tasks import get_task
from bayesft_tune.tasks.final import robustness_rows
from bayesft_tune.tasks.trial import drift_metrics
from trainables._common import set_threads_from_resources, trial_device
from trainables.tuning import TUNED, tune_method

__all__ = ["UNIFORM_RATES", "compare_trial", "fit_uniform_dropout"]

UNIFORM_RATES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
"""Rates the ``uniform_dropout`` baseline tries (one rate for every slot)."""


def fit_uniform_dropout(task, splits, cfg: MethodConfig, seed: int, objective: Objective, drift: str,
                        device, rates=UNIFORM_RATES) -> tuple[torch.nn.Module, float]:
    """The best single dropout rate for every slot, chosen on the validation objective.

    Every candidate trains with the same budget and seed; the selection draws are the
    seed's ``select`` stream (never the test draws). Returns ``(model, rate)``.
    """
    best = None
    for rate in rates:
        build = lambda: add_dropout(task.build(), [rate] * len(task.slots()))  # noqa: B023 (called at once)
        model = get_method("erm").fit(build, splits.train, splits.val, cfg, seed, device)
        score = drift_metrics(model, splits.val, objective, drift, stream_seed(seed, "select"))[objective.name]
        if best is None or objective.better(score, best[0]):
            best = (score, rate, model)
    return best[2], best[1]


def compare_trial(config: dict) -> None:
    """Function trainable: ``config`` has task, method, seed, data_seed, epochs, batch_size, lr,
    sigmas, samples, drift, ``objective`` (``Objective.to_dict``, for the tuned baselines),
    ``tune_trainings`` and ``method_options`` (MethodConfig fields)."""
    set_threads_from_resources()
    task, device, seed = get_task(config["task"]), trial_device(), int(config["seed"])
    splits = task.splits(config.get("data_dir"), False, int(config["data_seed"]))
    cfg = MethodConfig(epochs=int(config["epochs"]), batch_size=int(config["batch_size"]),
                       lr=float(config["lr"]), **dict(config.get("method_options") or {}))
    label, method, objective = f"seed{seed}", config["method"], Objective.from_dict(config["objective"])
    tuned = {}
    if method == "uniform_dropout":
        model, _ = fit_uniform_dropout(task, splits, cfg, seed, objective, config["drift"], device)
    elif method in TUNED:
        model, value, score = tune_method(method, task, splits, cfg, seed, objective, config["drift"], device,
                                          int(config["tune_trainings"]))
        tuned = {"method": method, "seed_label": label, "knob": TUNED[method].field, "value": value,
                 "validation_objective": score, "trainings": int(config["tune_trainings"])}
    else:
        model = get_method(method).fit(task.build, splits.train, splits.val, cfg, seed, device)
    rows = robustness_rows(model.to(torch.device("cpu")).eval(), splits.test, config["sigmas"],
                           int(config["samples"]), config["drift"], stream_seed(seed, "test"), method,
                           label, int(config["data_seed"]))
    tune.report({"robustness_json": rows.to_json(orient="records"), "method": method, "seed": seed,
                 "tuning_json": json.dumps(tuned)})
