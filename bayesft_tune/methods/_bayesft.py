"""``bayesft``: the BayesFT search itself; the method's model is the best trial's checkpoint."""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn
from torch.utils.data import TensorDataset

from bayesft_tune.errors import UserInputError
from bayesft_tune.methods._registry import Method, MethodConfig, register_method

__all__ = ["fit_bayesft", "load_checkpoint_model"]


def load_checkpoint_model(task_name: str, checkpoint) -> nn.Module:
    """Network of a search trial's Tune checkpoint (its dropout rates and weights), in eval mode."""
    from bayesft_tune.dropout import add_dropout
    from trainables._common import CHECKPOINT_FILE, get_task

    with checkpoint.as_directory() as d:
        state = torch.load(os.path.join(d, CHECKPOINT_FILE), weights_only=True, map_location="cpu")
    model = add_dropout(get_task(task_name).build(), state["rates"])
    model.load_state_dict(state["trainer"]["model"])
    return model.eval()


def fit_bayesft(build: Callable[[], nn.Module], train: TensorDataset, val: TensorDataset,
                cfg: MethodConfig, seed: int = 0, device: str | torch.device = "cpu") -> nn.Module:
    """Run a BayesFT search (:func:`bayesft_tune.search.runner.run_search`) and return its best model.

    ``cfg.options`` must hold ``task`` (the search trains the task's own network and
    data; ``build``/``train``/``val`` are not used) and may hold ``search``: extra
    :class:`~bayesft_tune.search.config.SearchConfig` settings (trials, storage_path, ...).
    Each trial trains ``cfg.epochs`` epochs, so the search costs ``trials`` times the
    budget of one other method. Call from the driver (the search starts Ray trials).
    """
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.runner import run_search

    if "task" not in cfg.options:
        raise UserInputError("method 'bayesft' needs options={'task': NAME}; got options "
                             f"{sorted(cfg.options)}. Pass the task the search should optimise.")
    settings = {"erm_baseline": False, "verbose": False, **dict(cfg.options.get("search", {}))}
    search = SearchConfig(task=cfg.options["task"], seed=int(seed), epochs=cfg.epochs,
                          batch_size=cfg.batch_size, lr=cfg.lr, **settings)
    outcome = run_search(search)
    if outcome.best is None or outcome.best_checkpoint is None:
        raise UserInputError(f"the BayesFT search in {outcome.run_dir} completed no trial; "
                             "see its trials.parquet error column.")
    model = load_checkpoint_model(search.task, outcome.best_checkpoint)
    model.bayesft_trial_id = str(outcome.best["trial_id"])  # for the robustness table
    model.bayesft_run_dir = str(outcome.run_dir)
    return model


register_method(Method("bayesft", fit_bayesft, "BayesFT: Ax BO of per-layer dropout rates (best trial)",
                       needs_search=True))
