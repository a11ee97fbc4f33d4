"""A Monte Carlo drift evaluation cut into independent parts, for threads or for later.

:func:`~bayesft_tune.evaluation.evaluate_under_drift` scores T draws at every σ of a grid in
one sequential loop. Here the same work is split into :class:`Part` s (one σ, a range of
samples; σ = 0 is one part, scored once), each computable on its own, in any thread and any
order; :func:`join_parts` puts their rows back in the loop's order. Sample ``t`` of every
part uses the loop's ``t``-th draw (the generator's state before each range is recorded once
by :func:`draw_states`), so the joined frame equals the loop's, row for row, when each part
runs on one torch thread::

    parts = plan_parts(sigmas, samples=32)
    states = draw_states(model, 32, "lognormal", seed)
    frame = join_parts([evaluate_part(model, batches, p, "lognormal", states) for p in parts], sigmas)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from bayesft_tune.drift import ParamFilter, get_drift
from bayesft_tune.evaluation import DriftedCopy, prepare_drift, run_loop

__all__ = ["CHUNK", "Part", "draw_states", "evaluate_part", "join_parts", "plan_parts"]

CHUNK = 8
"""Samples per part: small enough that two threads stay balanced and a part computed in
vain costs little; large enough that a part's set-up (a private copy of the network) is noise."""

COLUMNS = ["sigma", "sample", "loss", "accuracy"]


@dataclass(frozen=True)
class Part:
    """One piece of a Monte Carlo evaluation: strength ``sigma``, samples ``start <= t < stop``."""

    sigma: float
    start: int
    stop: int


def plan_parts(sigmas: Sequence[float], samples: int, chunk: int = CHUNK) -> tuple[Part, ...]:
    """The parts of a grid: σ = 0 once over all samples (clean: no draw), every other σ in
    ranges of ``chunk`` samples."""
    parts = []
    for sigma in dict.fromkeys(float(s) for s in sigmas):
        if sigma == 0.0:
            parts.append(Part(0.0, 0, samples))
            continue
        parts += [Part(sigma, t, min(t + chunk, samples)) for t in range(0, samples, chunk)]
    return tuple(parts)


def draw_states(model: nn.Module, samples: int, drift: str, seed: int, chunk: int = CHUNK,
                params: ParamFilter = "all") -> dict[int, Tensor]:
    """The drift generator's state before sample ``t`` for every ``t`` that starts a range
    (0, ``chunk``, 2 ``chunk``, ...): the draws the loop makes, made once."""
    _, drift_model, _, work, gen = prepare_drift(model, [1.0], samples, drift, seed, params, None)
    clean, states = work.clean, {}
    for t in range(samples):
        if t % chunk == 0:
            states[t] = gen.get_state()
        drift_model.draw(clean.numel(), gen, clean.device, clean.dtype)
    return states


def evaluate_part(model: nn.Module, batches: list, part: Part, drift: str, states: dict[int, Tensor],
                  params: ParamFilter = "all") -> pd.DataFrame:
    """The loop's rows of one part: ``sigma``, ``sample`` (global index), ``loss``, ``accuracy``.

    Args:
        batches: the evaluation set as :func:`~bayesft_tune.evaluation.as_batches` gives it
            (the batch size must be the loop's for equal numbers).
        states: :func:`draw_states` of the same network, seed and drift (unused for σ = 0).
    """
    drift_model = get_drift(drift)
    work = DriftedCopy(model, params, batches[0][0].device)
    gen = torch.Generator(device=work.clean.device)
    if part.sigma != 0.0:
        gen.set_state(states[part.start])
    rows = run_loop(work, drift_model, [part.sigma], part.stop - part.start, gen, batches)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["sample"] += part.start
    return frame


def join_parts(frames: Sequence[pd.DataFrame], sigmas: Sequence[float]) -> pd.DataFrame:
    """The parts' rows in the loop's order (sample-major, then the grid's σ order; a σ the
    grid repeats is repeated), typed as :func:`~bayesft_tune.evaluation.evaluate_under_drift` types them."""
    rows = pd.concat(frames, ignore_index=True)
    frame = pd.concat([rows[rows.sigma == float(s)].assign(_rank=i) for i, s in enumerate(sigmas)], ignore_index=True)
    frame = frame.sort_values(["sample", "_rank"], kind="stable").drop(columns="_rank")
    return frame.reset_index(drop=True).astype({"sigma": "float64", "sample": "int64", "loss": "float64",
                                                "accuracy": "float64"})
