"""Building and (de)serialising ``ax.api.Client`` instances for the searcher."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from typing import Literal, Sequence

Method = Literal["bo", "random"]


def quiet_ax() -> None:
    """Silence Ax's per-trial INFO logs and BoTorch/GPyTorch numerical warnings."""
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit at botorch import
    for name in ("ax", "botorch", "gpytorch", "linear_operator"):
        warnings.filterwarnings("ignore", module=name)
    from ax.utils.common.logger import set_stderr_log_level

    set_stderr_log_level(logging.ERROR)


def make_client(parameters: dict[str, tuple[float, float]], objective: str, minimize: bool,
                constraints: Sequence[str], seed: int, method: Method,
                initialization_budget: int | None, torch_device: str | None = None):
    """A configured Ax client.

    Args:
        parameters: name -> (low, high) float bounds.
        objective: metric to optimise.
        minimize: minimise (True) or maximise.
        constraints: Ax outcome-constraint strings, e.g. ``"clean_accuracy >= 0.9"``.
        seed: ``Client(random_seed=...)`` and the Sobol initialisation seed.
        method: ``"bo"`` (Sobol initialisation, then GP + log-EI, Ax's "fast") or ``"random"``.
        initialization_budget: Sobol trials before the GP (Ax default 5).
        torch_device: device of the GP fit and acquisition optimisation.
    """
    from ax.api import Client, RangeParameterConfig

    quiet_ax()
    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[RangeParameterConfig(name=n, bounds=(float(lo), float(hi)), parameter_type="float")
                    for n, (lo, hi) in parameters.items()],
        name="bayesft")
    client.configure_optimization(objective=("-" if minimize else "") + objective,
                                  outcome_constraints=list(constraints) or None)
    client.configure_generation_strategy(
        method="random_search" if method == "random" else "fast",
        initialization_budget=initialization_budget, initialization_random_seed=seed,
        allow_exceeding_initialization_budget=True, torch_device=torch_device)
    return client


def client_to_json(client) -> str:
    """The client's full state (experiment, data, generation strategy) as JSON text."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ax.json")
        client.save_to_json_file(path)
        with open(path) as f:
            return f.read()


def client_from_json(text: str, seed: int):
    """Inverse of :func:`client_to_json`; the random seed (not serialised by Ax) is re-applied."""
    from ax.api import Client

    quiet_ax()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ax.json")
        with open(path, "w") as f:
            f.write(text)
        client = Client.load_from_json_file(path)
    client._random_seed = seed
    return client
