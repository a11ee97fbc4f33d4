"""The parts of a :class:`~bayesft_tune.search.config.SearchConfig`: small frozen dataclasses,
one per concern, each listing its own rules.

The rules are checked (and their errors raised) in one place, ``SearchConfig``'s
constructor; a part built alone is not validated. Every field is also a flat setting of
the same name (a ``--flag`` and a YAML key): :data:`FLAT_KEYS` maps one to the other.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FLAT_KEYS", "PARTS", "FinalConfig", "MultiObjectiveConfig", "ObjectiveConfig", "ResourceConfig",
           "Rule", "SearcherConfig", "SpaceConfig", "StorageConfig", "TrainingConfig", "WarmStartConfig"]

Rule = tuple[bool, str, str]
"""``(holds, setting, what it must be)``."""
ObjectiveName = Literal["drifted_loss", "grid_accuracy"]
TrainingLoss = Literal["clean", "drifted"]
SearchMethod = Literal["bo", "random"]
SchedulerName = Literal["fifo", "asha"]
TrialStart = Literal["scratch", "warm_start", "alternating"]


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def pair(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and len(v) == 2 and all(finite(x) for x in v)


def _grid(values: Any) -> bool:
    return isinstance(values, (tuple, list)) and len(values) >= 1 and all(finite(s) and s >= 0 for s in values)


def _optional_int(v: Any, least: int) -> bool:
    return v is None or is_int(v) and v >= least


@dataclass(frozen=True)
class SpaceConfig:
    """What the search proposes: the knobs (``bayesft_tune.tasks.KNOBS``) and their ranges.

    ``space`` None means the default knobs the task's model supports; ``bounds`` are every
    dropout rate's; the other ranges are σ_train's and the log-scale ranges of the width
    ratios, learning rate and weight decay; ``search_noise_injection`` is the older
    spelling of adding ``noise`` to the space.
    """

    space: tuple[str, ...] | None = None
    bounds: tuple[float, float] = (0.0, 0.8)
    search_noise_injection: bool = False
    noise_injection_bounds: tuple[float, float] = (0.0, 1.0)
    width_ratio_bounds: tuple[float, float] = (0.125, 8.0)
    lr_bounds: tuple[float, float] = (1e-4, 1e-2)
    weight_decay_bounds: tuple[float, float] = (1e-6, 1e-2)
    activations: tuple[str, ...] = ("relu", "elu", "gelu", "tanh")
    norms: tuple[str, ...] = ("none", "layer")

    PAIRS = ("bounds", "noise_injection_bounds", "width_ratio_bounds", "lr_bounds", "weight_decay_bounds")

    def rules(self) -> list[Rule]:
        lo, hi = self.bounds
        noise = self.noise_injection_bounds
        logs = [(0 < b[0] < b[1], key, "(low, high) with 0 < low < high (a log-scale range)")
                for key, b in (("width_ratio_bounds", self.width_ratio_bounds), ("lr_bounds", self.lr_bounds),
                               ("weight_decay_bounds", self.weight_decay_bounds))]
        return [(0.0 <= lo < hi < 1.0, "bounds", "(low, high) with 0 <= low < high < 1"),
                (0 <= noise[0] < noise[1], "noise_injection_bounds", "(low, high) with 0 <= low < high"), *logs]


@dataclass(frozen=True)
class ObjectiveConfig:
    """What a trial is scored on and which trials count.

    ``objective`` None: drifted_loss in the paper's space, grid_accuracy otherwise;
    ``target_sigma`` is the σ of the drifted loss, ``objective_sigmas`` the grid of
    grid_accuracy, ``samples`` the Monte Carlo draws T; ``clean_guard`` keeps the clean
    validation accuracy at most that far below an ERM reference (None: no guard);
    ``min_clean_accuracy`` is an optional absolute floor. Levels are on the drift model's
    axis (σ; seconds since programming for ``pcm``/``reram_wan2022``, whose grids default to
    their own); ``gdc`` (device models) is folded into the drift spec (``pcm:gdc=true``).
    """

    objective: ObjectiveName | None = None
    target_sigma: float = 0.9
    samples: int = 16
    objective_sigmas: tuple[float, ...] = (0.3, 0.6, 0.9, 1.2, 1.5)
    drift: str = "lognormal"
    gdc: bool | None = None
    clean_guard: float | None = 0.01
    min_clean_accuracy: float | None = None

    def rules(self) -> list[Rule]:
        guard, floor = self.clean_guard, self.min_clean_accuracy
        return [
            (finite(self.target_sigma) and self.target_sigma > 0, "target_sigma", "a number > 0"),
            (is_int(self.samples) and self.samples >= 2, "samples", "an integer >= 2 (an SEM needs 2)"),
            (self.objective in (None, "drifted_loss", "grid_accuracy"), "objective",
             "'drifted_loss' or 'grid_accuracy'"),
            (_grid(self.objective_sigmas), "objective_sigmas", "one or more numbers >= 0"),
            (guard is None or finite(guard) and 0 <= guard < 1, "clean_guard",
             "a fraction in [0, 1) (e.g. 0.01 = one point below ERM), or null"),
            (floor is None or finite(floor) and 0 < floor < 1, "min_clean_accuracy", "a fraction in (0, 1)"),
            (self.gdc is None or isinstance(self.gdc, bool), "gdc", "true or false"),
        ]


@dataclass(frozen=True)
class TrainingConfig:
    """How every trial trains: the task, its data and the training loss.

    ``task`` is a task reference (``mnist_mlp``, ``module:NAME``, ``file.py:NAME``; see
    :mod:`bayesft_tune.tasks.source`) or a :class:`~bayesft_tune.Task` object (None:
    ``mnist_mlp``); ``data`` (a ``.npz`` or an ImageFolder directory) with ``model`` (a
    registered name or ``file.py:NAME``; default ``mlp``) is data without code. Once a
    ``SearchConfig`` is built, ``task`` is the reference and ``data``/``model`` are folded in.
    ``epochs``, ``batch_size``, ``lr`` None: the task's defaults; ``training`` None:
    drifted (Algorithm 1) in the paper's space, clean otherwise; ``data_seed`` seeds the
    train/val/test split (never derived from the run seed); ``data_dir``/``download`` are
    for torchvision datasets.
    """

    task: Any = None
    data: str | None = None
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    training: TrainingLoss | None = None
    data_seed: int = 0
    data_dir: str | None = None
    download: bool = False

    def rules(self) -> list[Rule]:
        return [
            (isinstance(self.task, str), "task", "a task name, module:NAME, file.py:NAME or a Task"),
            (self.data is None or isinstance(self.data, str), "data", "a .npz file or an ImageFolder directory"),
            (self.model is None or isinstance(self.model, str), "model", "a registered model or file.py:NAME"),
            (_optional_int(self.epochs, 1), "epochs", "an integer >= 1"),
            (_optional_int(self.batch_size, 1), "batch_size", "an integer >= 1"),
            (self.lr is None or finite(self.lr) and self.lr > 0, "lr", "a number > 0"),
            (self.training in (None, "clean", "drifted"), "training", "'clean' or 'drifted'"),
            (is_int(self.data_seed) and 0 <= self.data_seed < 2**32, "data_seed", "an integer in [0, 2**32)"),
            (self.data_dir is None or isinstance(self.data_dir, str), "data_dir", "a directory path"),
            (isinstance(self.download, bool), "download", "true or false (a YAML boolean, not a string)"),
        ]


@dataclass(frozen=True)
class SearcherConfig:
    """How trials are proposed and scheduled.

    ``seed`` is the run seed (Ax, and the streams of ``bayesft_tune.seeds``); ``method``
    Ax's GP (``bo``) or random proposals; ``initialization_budget`` Sobol trials before the
    GP (None: Ax's 5); ``scheduler`` fifo or ASHA early stopping; ``eval_every`` computes
    the MC objective every N epochs (None: the last epoch and ASHA's rungs).
    """

    trials: int = 30
    concurrency: int = 2
    seed: int = 0
    method: SearchMethod = "bo"
    initialization_budget: int | None = None
    scheduler: SchedulerName = "fifo"
    eval_every: int | None = None

    def rules(self) -> list[Rule]:
        return [
            (is_int(self.trials) and self.trials >= 1, "trials", "an integer >= 1"),
            (is_int(self.concurrency) and self.concurrency >= 1, "concurrency", "an integer >= 1"),
            (is_int(self.seed) and 0 <= self.seed < 2**32, "seed", "an integer in [0, 2**32)"),
            (self.method in ("bo", "random"), "method", "'bo' or 'random'"),
            (_optional_int(self.initialization_budget, 1), "initialization_budget", "an integer >= 1"),
            (self.scheduler in ("fifo", "asha"), "scheduler", "'fifo' or 'asha'"),
            (_optional_int(self.eval_every, 1), "eval_every", "an integer >= 1"),
        ]


@dataclass(frozen=True)
class WarmStartConfig:
    """``mode``: ``scratch`` (every trial from a fresh initialisation), ``warm_start`` (a trial
    starts from the best finished trial's weights) or ``alternating`` (the paper's Algorithm 1 as
    written: one network, θ and α in turn; ``search/alternating_search.py``)."""

    mode: TrialStart = "scratch"

    def rules(self) -> list[Rule]:
        return [(self.mode in ("scratch", "warm_start", "alternating"), "mode",
                 "'scratch', 'warm_start' or 'alternating'")]


@dataclass(frozen=True)
class MultiObjectiveConfig:
    """``multi_objective``: the Pareto front of drifted loss vs clean accuracy (``pareto.parquet``)."""

    multi_objective: bool = False

    def rules(self) -> list[Rule]:
        return [(isinstance(self.multi_objective, bool), "multi_objective", "true or false")]


@dataclass(frozen=True)
class ResourceConfig:
    """Where trials run: per-trial CPUs and GPUs (fractions pack trials), the Ray cluster
    (None starts Ray locally) and the retries of a trial whose worker died."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None
    max_failures: int = 2

    def rules(self) -> list[Rule]:
        gpus = self.gpus_per_trial
        return [
            (finite(self.cpus_per_trial) and self.cpus_per_trial > 0, "cpus_per_trial", "a number > 0"),
            (finite(gpus) and gpus >= 0 and (gpus <= 1 or float(gpus).is_integer()),
             "gpus_per_trial", "a fraction in [0, 1] or a whole number of GPUs"),
            (is_int(self.max_failures) and self.max_failures >= 0, "max_failures", "an integer >= 0"),
            (self.address is None or isinstance(self.address, str) and self.address.strip() != "", "address",
             "a Ray address ('auto', host:port, ray://host:10001) or unset"),
        ]


@dataclass(frozen=True)
class StorageConfig:
    """Where the run lives (``storage_path``/``name``; None: ``search-<timestamp>``) and
    whether it prints a line per finished trial."""

    storage_path: str = "runs"
    name: str | None = None
    verbose: bool = True

    def rules(self) -> list[Rule]:
        name = self.name
        plain = name is None or isinstance(name, str) and name not in ("", ".", "..") and not any(
            c in name for c in "/\\\0") and name.strip() == name
        return [(isinstance(self.storage_path, str) and self.storage_path.strip() != "", "storage_path",
                 "a directory or URI (a string)"),
                (plain, "name", "one plain path component (no '/', not '.' or '..'): the run's directory under "
                 "--storage-path"),
                (isinstance(self.verbose, bool), "verbose", "true or false")]


@dataclass(frozen=True)
class FinalConfig:
    """The final job: re-score the top ``reselect_top_k`` trials with fresh draws, then the
    test table of the returned network (and ERM if ``erm_baseline``) at T =
    ``robustness_samples`` over ``robustness_sigmas``."""

    reselect_top_k: int = 3
    robustness_samples: int = 32
    robustness_sigmas: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
    erm_baseline: bool = True

    def rules(self) -> list[Rule]:
        return [
            (is_int(self.reselect_top_k) and self.reselect_top_k >= 1, "reselect_top_k", "an integer >= 1"),
            (is_int(self.robustness_samples) and self.robustness_samples >= 2, "robustness_samples",
             "an integer >= 2"),
            (_grid(self.robustness_sigmas), "robustness_sigmas", "one or more numbers >= 0"),
            (isinstance(self.erm_baseline, bool), "erm_baseline", "true or false"),
        ]


PARTS: dict[str, type] = {
    "domain": SpaceConfig, "scoring": ObjectiveConfig, "train": TrainingConfig, "searcher": SearcherConfig,
    "warm_start": WarmStartConfig, "pareto": MultiObjectiveConfig, "resources": ResourceConfig,
    "storage": StorageConfig, "final": FinalConfig,
}
"""``SearchConfig``'s attribute name of each part."""
FLAT_KEYS: dict[str, str] = {f.name: part for part, cls in PARTS.items() for f in dataclasses.fields(cls)}
"""Flat setting (flag / YAML key / ``search_config.json`` key) -> the part holding it."""
assert len(FLAT_KEYS) == sum(len(dataclasses.fields(c)) for c in PARTS.values()), "a flat key in two parts"
