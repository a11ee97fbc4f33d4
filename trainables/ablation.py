"""Trainable of ``bayesft-tune ablation``: train one MLP variant (paper §III.A) and score it under drift."""

from __future__ import annotations

import torch
from ray import tune

from bayesft_tune.tasks.ablation import AblationVariant, build_ablation_mlp, variant_rows
from bayesft_tune.tasks.trial import cached_data
from bayesft_tune.training import TrainConfig, Trainer
from trainables._common import set_threads_from_resources

__all__ = ["ablation_trial"]


def ablation_trial(config: dict) -> None:
    """Function trainable: ``config`` has ``variant`` (an :class:`AblationVariant` as a dict),
    ``seed``, ``epochs``, ``batch_size``, ``lr``, ``sigmas``, ``samples``, ``eval_seed``.

    Reports the variant's robustness rows (schema ``ABLATION``) as JSON text in ``rows_json``.
    """
    set_threads_from_resources()
    variant, seed = AblationVariant(**config["variant"]), int(config["seed"])
    splits = cached_data("mnist_embedded", None, False, 0)
    torch.manual_seed(seed)
    model = build_ablation_mlp(variant)
    tcfg = TrainConfig(epochs=int(config["epochs"]), batch_size=int(config["batch_size"]), lr=float(config["lr"]))
    trainer = Trainer(model, splits.train, tcfg, seed=seed)
    for _ in range(tcfg.epochs):
        trainer.epoch()
    rows = variant_rows(model.eval(), splits.test, variant, seed, config, tune.get_context().get_trial_id())
    tune.report({"rows_json": rows.to_json(orient="records")})
