"""Algorithm 1 of the paper as written: one network whose weights θ and dropout rates α are
optimised in turn (``compare``'s ``bayesft_alternating``; ``--mode alternating`` nowhere
else: it is not a search of independent trials).

Each round: θ trains ``epochs_per_round`` epochs on the Monte Carlo drifted loss at the
current α (noise injection at the objective's level: Eq. 4 with dropout active); then every
α tried so far is re-scored at the new θ, ``u(α_i, θ_t)`` (the drifted validation loss with
dropout α_i active, common random numbers across α), a Gaussian process is fitted to those
scores and expected improvement proposes the next α (Ax: Sobol for the first rounds, then
GP + log-EI). The budget is ``rounds x epochs_per_round`` epochs, the scratch search's
``trials x epochs``. The returned network is θ at the end with the best re-scored α.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from bayesft_tune.dropout import add_dropout, slot_parameter_name
from bayesft_tune.drift import get_drift
from bayesft_tune.search.searcher import make_client
from bayesft_tune.seeds import stream_seed
from bayesft_tune.tasks import get_task
from bayesft_tune.tasks.final import robustness_rows
from bayesft_tune.training import TrainConfig, Trainer

__all__ = ["AlternatingResult", "alternating_rows", "drifted_loss_with_dropout", "run_alternating"]


@dataclass(frozen=True)
class AlternatingResult:
    """The network, its chosen rates, one row per round (α proposed, u at proposal time) and
    ``final``: ``(u, SEM)`` of every α tried, re-scored at the final θ (round order)."""

    model: nn.Module
    rates: tuple[float, ...]
    rounds: pd.DataFrame
    final: tuple[tuple[float, float], ...] = ()


def drifted_loss_with_dropout(model: nn.Module, data: TensorDataset, drift: str, level: float, samples: int,
                              seed: int, with_sem: bool = False) -> float | tuple[float, float]:
    """``u``: mean cross-entropy over ``samples`` drift draws with the network's dropouts active
    (drift draws and dropout masks seeded by ``seed``: the same for every α scored with it);
    ``with_sem``: ``(mean, its standard error over the draws)``."""
    x, y = data.tensors
    gen, drift_model = torch.Generator().manual_seed(seed), get_drift(drift)
    losses = []
    torch.manual_seed(seed)
    for _ in range(samples):
        noisy = drift_model.perturb(model, level, gen).eval()
        for m in noisy.modules():
            if isinstance(m, nn.Dropout):
                m.train()
        with torch.no_grad():
            losses.append(float(F.cross_entropy(noisy(x), y)))
    mean = float(np.mean(losses))
    return (mean, float(np.std(losses, ddof=1) / np.sqrt(len(losses))) if len(losses) > 1 else 0.0) \
        if with_sem else mean


def run_alternating(build, train: TensorDataset, val: TensorDataset, *, slots: list[str], bounds: tuple[float, float],
                    rounds: int, epochs_per_round: int, batch_size: int, lr: float, drift: str, level: float,
                    noise: float, samples: int, seed: int, device: str = "cpu") -> AlternatingResult:
    """Algorithm 1 (see the module docstring); ``noise``: σ_train of the θ steps (the
    objective's σ for lognormal drift; 1 = the device's own noise at ``level`` for a device model)."""
    names = [slot_parameter_name(s) for s in slots]
    torch.manual_seed(seed)
    model = add_dropout(build(), [0.0] * len(slots))
    trainer = Trainer(model, train, TrainConfig(epochs=rounds * epochs_per_round, batch_size=batch_size, lr=lr,
                                                noise_injection=noise, noise_drift=drift, noise_level=level),
                      seed=seed, device=device)
    tried: list[tuple[float, ...]] = []
    log = []
    rates = tuple(float(v) for v in np.random.default_rng(seed).uniform(*bounds, len(slots)))  # line 3: uniform α
    for r in range(rounds):
        add_dropout(model, list(rates), inplace=True)
        for _ in range(epochs_per_round):
            trainer.epoch()
        tried.append(rates)
        scored = [_u(model, rates_i, val, drift, level, samples, seed + 1) for rates_i in tried]
        scores = [mean for mean, _ in scored]
        log.append({"round": r, **dict(zip(names, rates)), "u_now": scores[-1], "u_sem": scored[-1][1],
                    "clean_accuracy": _clean_accuracy(model, val), "epochs": trainer.epochs_done})
        if r + 1 < rounds:
            rates = _propose(names, bounds, tried, scores, seed + r)
    best = tried[int(np.argmin(scores))]
    add_dropout(model, list(best), inplace=True)
    return AlternatingResult(model.eval(), best, pd.DataFrame(log), tuple(scored))


def _u(model: nn.Module, rates, val, drift, level, samples, seed) -> tuple[float, float]:
    add_dropout(model, list(rates), inplace=True)
    return drifted_loss_with_dropout(model, val, drift, level, samples, seed, with_sem=True)


def _clean_accuracy(model: nn.Module, val: TensorDataset) -> float:
    x, y = val.tensors
    was = model.training
    with torch.no_grad():
        correct = float((model.eval()(x).argmax(1) == y).float().mean())
    model.train(was)
    return correct


def _propose(names: list[str], bounds, tried, scores, seed: int) -> tuple[float, ...]:
    """The next α: a GP on ``u(α_i, θ_t)`` of every α tried so far, then expected improvement."""
    client = make_client({n: bounds for n in names}, "u", True, [], seed, "bo", None)
    for rates, score in zip(tried, scores):
        index = client.attach_trial(parameters=dict(zip(names, rates)))
        client.complete_trial(trial_index=index, raw_data={"u": (float(score), 0.0)})
    (params,) = client.get_next_trials(max_trials=1).values()
    return tuple(float(params[n]) for n in names)


def alternating_rows(task_ref: str, seed: int, data_seed: int, rounds: int, epochs: int, drift: str,
                     objective_level: float, samples: int, test_levels: list[float], test_samples: int,
                     bounds: tuple[float, float] = (0.0, 0.8)) -> pd.DataFrame:
    """``compare``'s ``bayesft_alternating`` for one seed: Algorithm 1 on the task, then the
    returned network's test rows (schema ``ROBUSTNESS``, the seed's test draws)."""
    task = get_task(task_ref)
    splits = task.splits(None, False, data_seed)
    device_noise = get_drift(drift).axis == "time"
    result = run_alternating(task.build, splits.train, splits.val, slots=task.slots(), bounds=bounds, rounds=rounds,
                             epochs_per_round=epochs, batch_size=task.batch_size, lr=task.lr, drift=drift,
                             level=objective_level, noise=1.0 if device_noise else objective_level,
                             samples=samples, seed=stream_seed(seed, "train"))
    return robustness_rows(result.model, splits.test, test_levels, test_samples, drift, stream_seed(seed, "test"),
                           "bayesft_alternating", f"seed{seed}", data_seed)
