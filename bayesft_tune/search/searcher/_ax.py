"""Building and (de)serialising ``ax.api.Client`` instances for the searcher."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator, Literal, Mapping, Sequence

from threadpoolctl import threadpool_limits

from bayesft_tune.tasks.space import ChoiceParam, Param, RangeParam

Method = Literal["bo", "random"]


def quiet_ax() -> None:
    """Silence Ax's per-trial INFO logs and BoTorch/GPyTorch numerical warnings."""
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit at botorch import
    for name in ("ax", "botorch", "gpytorch", "linear_operator"):
        warnings.filterwarnings("ignore", module=name)
    from ax.utils.common.logger import set_stderr_log_level  # lazy: Ax loads after the filters above

    set_stderr_log_level(logging.ERROR)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's and SciPy's BLAS (OpenBLAS, loaded with Ax) on one thread for the block; the
    previous limits after it.

    OpenBLAS starts a thread per core and lets them spin-wait after every call for the next.
    Over the default search's 30 GP steps (matrices of tens of rows: nothing to parallelise)
    the spare thread burnt ~4 core-seconds, on a 2-core machine taken from the trials running
    beside the GP (bench/RESULTS.md, round 6); torch's thread setting does not reach it.
    """
    quiet_ax()
    import ax.api  # noqa: F401  lazy: loads SciPy's OpenBLAS (limits reach loaded libraries only) after quiet_ax

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def as_params(parameters: Sequence[Param] | Mapping[str, tuple[float, float]]) -> list[Param]:
    """Typed parameters; a mapping ``name -> (low, high)`` means float ranges."""
    if isinstance(parameters, Mapping):
        return [RangeParam(n, float(lo), float(hi)) for n, (lo, hi) in parameters.items()]
    return list(parameters)


def _ax_parameter(p: Param):
    from ax.api import ChoiceParameterConfig, RangeParameterConfig  # lazy: Ax loads after quiet_ax's filters

    if isinstance(p, ChoiceParam):
        return ChoiceParameterConfig(name=p.name, values=list(p.values), parameter_type="str", is_ordered=False)
    return RangeParameterConfig(name=p.name, bounds=(float(p.low), float(p.high)), parameter_type="float",
                                scaling="log" if p.log else "linear")


def make_client(parameters: Sequence[Param] | Mapping[str, tuple[float, float]], objective: str, minimize: bool,
                constraints: Sequence[str], seed: int, method: Method,
                initialization_budget: int | None, torch_device: str | None = None):
    """A configured Ax client.

    Args:
        parameters: typed range/choice parameters (or name -> (low, high) float bounds).
        objective: metric to optimise.
        minimize: minimise (True) or maximise.
        constraints: Ax outcome-constraint strings, e.g. ``"clean_accuracy >= 0.9"``.
        seed: ``Client(random_seed=...)`` and the Sobol initialisation seed.
        method: ``"bo"`` (Sobol initialisation, then GP + log-EI, Ax's "fast") or ``"random"``.
        initialization_budget: Sobol trials before the GP (Ax default 5).
        torch_device: device of the GP fit and acquisition optimisation.
    """
    from ax.api import Client  # lazy: Ax loads after quiet_ax's filters (called next)

    quiet_ax()
    client = Client(random_seed=seed)
    client.configure_experiment(parameters=[_ax_parameter(p) for p in as_params(parameters)], name="bayesft")
    client.configure_optimization(objective=("-" if minimize else "") + objective,
                                  outcome_constraints=list(constraints) or None)
    client.set_generation_strategy(_generation_strategy(method, initialization_budget, seed, torch_device))
    return client


ACQ_OPTIMIZER = {"num_restarts": 4, "raw_samples": 128, "options": {"maxiter": 100}}
"""Acquisition optimiser settings of the GP step. Ax's defaults (20 restarts, 1,024 raw
samples) took 9.6 s over a 30-trial, 2-slot search here; these take 5.5 s (bench/RESULTS.md)."""


def _generation_strategy(method: Method, initialization_budget: int | None, seed: int,
                         torch_device: str | None):
    """Ax's own "fast" (Sobol, then GP + log-EI) or "random_search" strategy, with a cheaper
    acquisition optimiser for the GP step (the 1-8-D dropout spaces here need no more)."""
    # lazy: Ax loads after quiet_ax's warning filters (make_client)
    from ax.api.utils.generation_strategy_dispatch import choose_generation_strategy
    from ax.api.utils.structs import GenerationStrategyDispatchStruct

    gs = choose_generation_strategy(GenerationStrategyDispatchStruct(
        method="random_search" if method == "random" else "fast",
        initialization_budget=initialization_budget, initialization_random_seed=seed,
        allow_exceeding_initialization_budget=True, torch_device=torch_device))
    for node in gs.nodes_by_name.values():  # public GenerationStrategy/GenerationNode/GeneratorSpec fields
        for spec in node.generator_specs:
            if node.name == "MBM":
                spec.generator_gen_kwargs = {"model_gen_options": {"optimizer_kwargs": ACQ_OPTIMIZER}}
    return gs
