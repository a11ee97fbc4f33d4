"""Monte Carlo evaluation of a network under weight drift (the paper's Eq. 3-4).

``u(α) ≈ (1/T) Σ_t ℓ(f(α, θ̃_t))``: for each of T drift samples the network's
weights are drifted once and the whole evaluation set is scored. One noise draw per
sample serves every σ of the grid (common random numbers), so the points of a
robustness curve are comparable and the noise is drawn T times, not T x |grid|.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from bayesft_tune.drift import DriftModel, ParamFilter, get_drift, select_parameters
from bayesft_tune.errors import UserInputError

__all__ = ["DEFAULT_SIGMAS", "VMAP_WEIGHT_BUDGET", "DriftedCopy", "as_batches", "evaluate_under_drift",
           "prepare_drift", "run_loop", "score_batches"]

DEFAULT_SIGMAS: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
"""The σ grid of the paper's robustness curves."""

Method = Literal["auto", "loop", "vmap"]
Batches = list[tuple[Tensor, Tensor]]

VMAP_WEIGHT_BUDGET = 256 * 2**20
"""Bytes of stacked drifted weights one vmap pass may hold when ``vmap_chunk`` is not given:
all T samples at once for the small networks (measured on an H200, bench/RESULTS.md: a pass is
launch-bound, so fewer, larger passes are faster), fewer for a large one."""


class DriftedCopy:
    """A private copy of a network whose selected parameters live in one flat buffer.

    Writing drifted weights is then one vectorised op over all ``P`` drifting
    parameters, and the caller's network is never touched (bit-identical
    afterwards, also when evaluation raises).

    Attributes:
        model: the working copy, in ``eval()`` mode, on ``device``.
        clean: clean weights, shape ``P``.
        max_abs: ``max |w|`` of each weight's tensor, shape ``P``.
        groups: the index of each weight's tensor, shape ``P`` (per-tensor device effects).
        flat: the working copy's drifting weights, shape ``P`` (parameters are views).
    """

    def __init__(self, model: nn.Module, params: ParamFilter, device: torch.device) -> None:
        self.model = copy.deepcopy(model).to(device).eval()
        self.selected = select_parameters(self.model, params)
        with torch.no_grad():
            self.clean = torch.cat([p.detach().reshape(-1) for _, p in self.selected])
            self.max_abs = torch.cat([p.detach().abs().max().expand(p.numel())
                                      for _, p in self.selected])
            self.groups = torch.cat([torch.full((p.numel(),), i, device=device, dtype=torch.int64)
                                     for i, (_, p) in enumerate(self.selected)])
            self.flat = self.clean.clone()
            offset = 0
            for _, p in self.selected:
                p.data = self.flat[offset:offset + p.numel()].view_as(p)
                offset += p.numel()

    def set_drift(self, drift: DriftModel, noise: Tensor, sigma: float) -> None:
        """Write ``drift.apply(clean, noise, sigma)`` into the working copy."""
        with torch.no_grad():
            drift.apply_into(self.flat, self.clean, noise, sigma, self.max_abs, self.groups)

    def stacked(self, drift: DriftModel, noise: Tensor, sigma: float) -> dict[str, Tensor]:
        """Drifted parameters for a batch of samples: noise ``S x P`` -> ``{name: S x *shape}``."""
        flat = drift.apply(self.clean[None], noise, sigma, self.max_abs[None], self.groups)
        out, offset = {}, 0
        for name, p in self.selected:
            out[name] = flat[:, offset:offset + p.numel()].reshape(-1, *p.shape)
            offset += p.numel()
        return out


@dataclass
class _Score:
    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0


def _as_batches(data: Dataset | DataLoader, batch_size: int, device: torch.device) -> Batches:
    """Materialise the evaluation set once, as ``(x, y)`` batches on ``device``.

    A ``TensorDataset`` is sliced into the batches a ``DataLoader`` would collate row by row
    (~100x faster: 0.05-0.08 ms against 6-8 ms per 1,000 rows, most of a GPU evaluation).
    Neither path draws from the global torch generator, which training's dropout uses (a
    ``DataLoader`` draws its base seed from its ``generator``)."""
    if not isinstance(data, DataLoader) and (int(batch_size) != batch_size or batch_size < 1):
        raise UserInputError(f"batch_size must be an integer >= 1; got {batch_size!r}. Pass e.g. batch_size=1024.")
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        (x, y), size = data.tensors, int(batch_size)
        batches = [(x[i:i + size].to(device), y[i:i + size].to(device)) for i in range(0, len(y), size)]
    else:
        loader = data if isinstance(data, DataLoader) else DataLoader(
            data, batch_size=int(batch_size), shuffle=False, generator=torch.Generator())
        batches = [(x.to(device), y.to(device)) for x, y in loader]
    if not batches:
        raise UserInputError("the evaluation data is empty; pass a Dataset/DataLoader with examples.")
    return batches


def _check_classifier(model: nn.Module, batches: Batches) -> None:
    """The model takes the data and the labels index its outputs (a few rows, no random draw)."""
    x = batches[0][0][:8]
    try:
        with torch.inference_mode():
            classes = model(x).shape[-1]
    except Exception as err:  # the user's model or data: one line naming both
        raise UserInputError(f"the model's forward fails on the evaluation data, inputs of shape {tuple(x.shape)}: "
                             f"{type(err).__name__}: {err}. Pass data of the shape the model takes.") from err
    labels = torch.cat([y.reshape(-1) for _, y in batches])
    if labels.min() < 0 or labels.max() >= classes:
        raise UserInputError(f"the evaluation labels must lie in [0, {classes}) (the model's {classes} outputs); got "
                             f"labels in [{int(labels.min())}, {int(labels.max())}]. Encode classes as 0..C-1.")


def _score_loop(model: nn.Module, batches: Batches) -> tuple[float, float]:
    s = _Score()
    with torch.inference_mode():
        for x, y in batches:
            logits = model(x)
            s.loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            s.correct += int((logits.argmax(1) == y).sum())
            s.count += len(y)
    return s.loss_sum / s.count, s.correct / s.count


as_batches = _as_batches
"""Public name: materialise an evaluation set once as ``(x, y)`` batches on a device."""
score_batches = _score_loop
"""Public name: ``(model, batches) -> (mean cross-entropy, accuracy)`` without drift."""


def _score_vmap(work: DriftedCopy, params: dict[str, Tensor], batches: Batches) -> np.ndarray:
    """Scores of ``S`` drifted copies at once: returns ``S x 2`` (loss, accuracy)."""
    call = lambda p, x: torch.func.functional_call(work.model, p, (x,))
    batched = torch.func.vmap(call, in_dims=(0, None))
    n_samples = next(iter(params.values())).shape[0]
    loss = torch.zeros(n_samples, device=work.clean.device, dtype=torch.float64)
    correct = torch.zeros(n_samples, device=work.clean.device, dtype=torch.float64)
    count = 0
    with torch.inference_mode():
        for x, y in batches:
            logits = batched(params, x)  # S x N x C
            ce = F.cross_entropy(logits.flatten(0, 1), y.repeat(n_samples), reduction="none")
            loss += ce.view(n_samples, -1).sum(1).double()
            correct += (logits.argmax(-1) == y).sum(1).double()
            count += len(y)
    return torch.stack([loss / count, correct / count], 1).cpu().numpy()


def _resolve_method(method: Method, device: torch.device) -> str:
    if method not in ("auto", "loop", "vmap"):
        raise UserInputError(f"method must be 'auto', 'loop' or 'vmap'; got {method!r}.")
    if method == "auto":
        # Measured (bench/mc_eval.py): on CPU a plain loop beats vmap over samples.
        return "vmap" if device.type == "cuda" else "loop"
    return method


def _check_grid(sigmas: Iterable[float], samples: int, drift: DriftModel) -> list[float]:
    grid = [drift.check_level(s) for s in (sigmas if isinstance(sigmas, Iterable) else [sigmas])]
    if not grid:
        raise UserInputError("sigmas is empty; pass at least one drift strength, e.g. [0.6].")
    if int(samples) != samples or samples < 1:
        raise UserInputError(f"samples (Monte Carlo draws T) must be an integer >= 1; got {samples!r}.")
    return grid


def _draw_noise(drift: DriftModel, work: DriftedCopy, gen: torch.Generator, count: int) -> Tensor:
    """``count x P`` noise, drawn one sample after another (the same stream for every method)."""
    c = work.clean
    if count == 1:  # the loop path: no stacking copy
        return drift.draw(c.numel(), gen, c.device, c.dtype)[None]
    return torch.stack([drift.draw(c.numel(), gen, c.device, c.dtype) for _ in range(count)])


def run_loop(work: DriftedCopy, drift: DriftModel, grid: list[float], samples: int,
             gen: torch.Generator, batches: list, score=_score_loop) -> list[tuple]:
    """The Monte Carlo loop: one noise draw per sample, reused across the σ grid.

    Args:
        score: ``(model, batches) -> tuple of metrics``; default (loss, accuracy).

    Returns:
        Rows ``(sigma, sample, *metrics)``, sample-major.
    """
    rows: list[tuple] = []
    clean_score = score(work.model, batches) if 0.0 in grid else None
    for t in range(samples):
        noise = _draw_noise(drift, work, gen, 1)[0] if any(grid) else None
        for s in grid:
            if s == 0.0:  # σ = 0 is the identity for every drift model: score once.
                rows.append((s, t, *clean_score))
                continue
            work.set_drift(drift, noise, s)
            rows.append((s, t, *score(work.model, batches)))
    return rows


def prepare_drift(model: nn.Module, sigmas, samples: int, drift: str | DriftModel, seed: int,
                  params: ParamFilter, device) -> tuple[list[float], DriftModel, torch.device,
                                                        DriftedCopy, torch.Generator]:
    """Validated σ grid, drift model, device, private drifted copy and seeded generator."""
    if not isinstance(model, nn.Module):
        raise UserInputError(f"model must be a torch.nn.Module (a classifier returning N x C logits); got "
                             f"{type(model).__name__}.")
    drift_model = get_drift(drift)
    grid = _check_grid(sigmas if isinstance(sigmas, Iterable) else [sigmas], samples, drift_model)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    return grid, drift_model, dev, DriftedCopy(model, params, dev), gen


def _vmap_chunk(chunk: int | None, samples: int, work: DriftedCopy) -> int:
    """Samples per vmap pass: ``chunk`` if given, else as many as :data:`VMAP_WEIGHT_BUDGET` holds."""
    if chunk is not None:
        return max(1, int(chunk))
    per_sample = work.clean.numel() * work.clean.element_size()
    return max(1, min(samples, VMAP_WEIGHT_BUDGET // per_sample))


def _run_vmap(work: DriftedCopy, drift: DriftModel, grid: list[float], samples: int,
              gen: torch.Generator, batches: Batches, chunk: int) -> list[tuple]:
    scores: dict[float, list[np.ndarray]] = {s: [] for s in grid}
    clean_score = _score_loop(work.model, batches) if 0.0 in grid else None
    for start in range(0, samples, chunk):
        n = min(chunk, samples - start)
        noise = _draw_noise(drift, work, gen, n) if any(grid) else None
        for s in grid:
            if s == 0.0:
                scores[s].append(np.tile(clean_score, (n, 1)))
            else:
                with torch.no_grad():
                    params = work.stacked(drift, noise, s)
                scores[s].append(_score_vmap(work, params, batches))
    rows = []
    for t in range(samples):  # same row order as the loop: sample-major, then σ
        for s in grid:
            loss, acc = np.concatenate(scores[s])[t]
            rows.append((s, t, float(loss), float(acc)))
    return rows


def evaluate_under_drift(model: nn.Module, data: Dataset | DataLoader,
                         sigmas: Sequence[float] | float = DEFAULT_SIGMAS, samples: int = 32,
                         drift: str | DriftModel = "lognormal", seed: int = 0,
                         params: ParamFilter = "all", batch_size: int = 1024,
                         device: str | torch.device | None = None, method: Method = "auto",
                         vmap_chunk: int | None = None) -> pd.DataFrame:
    """Score a classifier under T Monte Carlo weight-drift samples at each σ.

    Args:
        model: a classifier returning ``N x C`` logits. Never modified.
        data: evaluation set of ``(x, y)`` pairs (Dataset or DataLoader); scored whole.
        sigmas: drift strengths σ (units of the drift model).
        samples: Monte Carlo draws T per σ.
        drift: registered drift-model name or instance.
        seed: seeds the ``torch.Generator`` of the drift draws.
        params: which parameters drift (default all, as in the paper).
        batch_size: batch size when ``data`` is a Dataset.
        device: where to evaluate; default the model's device.
        method: ``"loop"`` (one sample at a time), ``"vmap"`` (``torch.func.vmap`` over
            ``vmap_chunk`` samples), or ``"auto"`` (loop on CPU, vmap on CUDA). The
            same seed gives the same rows whichever is used.
        vmap_chunk: samples scored at once by the vmap path; default as many as fit
            :data:`VMAP_WEIGHT_BUDGET` (all T for the paper's networks). Lower it to bound the
            GPU memory of the batched activations.

    Returns:
        Tidy frame, one row per (σ, sample): ``sigma``, ``sample``, ``loss`` (mean
        cross-entropy, nats), ``accuracy`` (fraction correct), ordered sample-major.
    """
    grid, drift_model, dev, work, gen = prepare_drift(model, sigmas, samples, drift, seed, params, device)
    batches = _as_batches(data, batch_size, dev)
    _check_classifier(work.model, batches)
    if _resolve_method(method, dev) == "vmap":
        rows = _run_vmap(work, drift_model, grid, int(samples), gen, batches,
                         _vmap_chunk(vmap_chunk, int(samples), work))
    else:
        rows = run_loop(work, drift_model, grid, int(samples), gen, batches)
    frame = pd.DataFrame(rows, columns=["sigma", "sample", "loss", "accuracy"])
    return frame.astype({"sigma": "float64", "sample": "int64", "loss": "float64",
                         "accuracy": "float64"})
