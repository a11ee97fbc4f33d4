"""``SearchConfig``: everything a BayesFT search needs, validated in one place."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from bayesft_tune.drift import get_drift
from bayesft_tune.errors import UserInputError

__all__ = ["SearchConfig"]


@dataclass(frozen=True)
class SearchConfig:
    """A BayesFT search.

    Attributes:
        task: registered task (``trainables.TASKS``), e.g. ``"mnist_mlp"``.
        trials: trials to run in total.
        concurrency: trials running at once (also Ax's batch size).
        target_sigma: σ at which the objective (MC drifted loss, Eq. 4) is measured.
        samples: Monte Carlo draws T per evaluation.
        epochs: training epochs per trial (None: the task's default).
        batch_size, lr: training settings (None: the task's defaults).
        bounds: ``(low, high)`` of every dropout rate; ``0 <= low < high < 1``.
        seed: seeds Ax, the trials' training and the drift draws.
        objective: ``"drifted_loss"`` (minimise) or ``"grid_accuracy"`` (maximise the
            mean accuracy over ``objective_sigmas``).
        objective_sigmas: σ grid of the ``grid_accuracy`` objective.
        min_clean_accuracy: optional outcome constraint on clean validation accuracy.
        method: ``"bo"`` (Ax GP) or ``"random"`` (Ax random search, a baseline).
        initialization_budget: Sobol trials before the GP (None: Ax's default, 5).
        scheduler: ``"fifo"`` (every trial runs all epochs) or ``"asha"`` (early stopping).
        drift: drift model of the objective.
        cpus_per_trial, gpus_per_trial: resources per trial (GPU fractions pack trials).
        storage_path: local directory or URI (``s3://``, ``gs://``, ``file://``).
        name: run name (directory under ``storage_path``); None: ``search-<timestamp>``.
        address: Ray cluster address (``"auto"``, ``"ray://..."``); None starts Ray locally.
        max_failures: retries of a failed trial (node loss) before it counts as failed.
        data_dir, download: dataset files for torchvision datasets.
        robustness_samples: T of the final robustness evaluation (best vs ERM).
        robustness_sigmas: σ grid of the final robustness evaluation.
        erm_baseline: also train an ERM model (dropout 0) for the robustness table.
        verbose: print one line per finished trial.
        mode: ``"scratch"`` (every trial trains from a fresh initialisation) or
            ``"warm_start"`` (the paper's Algorithm 1: each new trial loads the weights
            of the best trial finished so far and trains ``epochs`` more with its own
            dropout vector; the first ``concurrency`` trials start from scratch).
        search_noise_injection: also search σ_train of noise-injection training
            (parameter ``noise_injection``) next to the dropout rates.
        noise_injection_bounds: ``(low, high)`` of that σ_train, ``0 <= low < high``.
        multi_objective: Ax multi-objective search for the Pareto front of drifted loss
            (minimised) vs clean accuracy (maximised); writes ``pareto.parquet`` and
            ``pareto.png``. The best trial (robustness table) is still the lowest
            drifted loss.
    """

    task: str = "mnist_mlp"
    trials: int = 30
    concurrency: int = 2
    target_sigma: float = 0.9
    samples: int = 16
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    bounds: tuple[float, float] = (0.0, 0.8)
    seed: int = 0
    objective: Literal["drifted_loss", "grid_accuracy"] = "drifted_loss"
    objective_sigmas: tuple[float, ...] = (0.3, 0.6, 0.9, 1.2, 1.5)
    min_clean_accuracy: float | None = None
    method: Literal["bo", "random"] = "bo"
    initialization_budget: int | None = None
    scheduler: Literal["fifo", "asha"] = "fifo"
    drift: str = "lognormal"
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    storage_path: str = "runs"
    name: str | None = None
    address: str | None = None
    max_failures: int = 2
    data_dir: str | None = None
    download: bool = False
    robustness_samples: int = 32
    robustness_sigmas: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
    erm_baseline: bool = True
    verbose: bool = True
    mode: Literal["scratch", "warm_start"] = "scratch"
    search_noise_injection: bool = False
    noise_injection_bounds: tuple[float, float] = (0.0, 1.0)
    multi_objective: bool = False

    def __post_init__(self) -> None:
        for rule_ok, fld, rule in self._rules():
            if not rule_ok:
                raise UserInputError(f"search {fld} must be {rule}; got {fld}={getattr(self, fld)!r}. "
                                     f"Fix --{fld.replace('_', '-')} (or '{fld}:' in the YAML config).")
        get_drift(self.drift)
        from trainables import get_task

        get_task(self.task)

    def _rules(self) -> list[tuple[bool, str, str]]:
        lo, hi = self.bounds
        return [
            (_is_int(self.trials) and self.trials >= 1, "trials", "an integer >= 1"),
            (_is_int(self.concurrency) and self.concurrency >= 1, "concurrency", "an integer >= 1"),
            (_finite(self.target_sigma) and self.target_sigma > 0, "target_sigma", "a number > 0"),
            (_is_int(self.samples) and self.samples >= 2, "samples", "an integer >= 2 (an SEM needs 2)"),
            (self.epochs is None or _is_int(self.epochs) and self.epochs >= 1, "epochs", "an integer >= 1"),
            (self.batch_size is None or _is_int(self.batch_size) and self.batch_size >= 1, "batch_size",
             "an integer >= 1"),
            (self.lr is None or _finite(self.lr) and self.lr > 0, "lr", "a number > 0"),
            (0.0 <= lo < hi < 1.0, "bounds", "(low, high) with 0 <= low < high < 1"),
            (self.objective in ("drifted_loss", "grid_accuracy"), "objective",
             "'drifted_loss' or 'grid_accuracy'"),
            (len(self.objective_sigmas) >= 1 and all(_finite(s) and s >= 0 for s in self.objective_sigmas),
             "objective_sigmas", "one or more numbers >= 0"),
            (self.min_clean_accuracy is None or 0 < self.min_clean_accuracy < 1, "min_clean_accuracy",
             "a fraction in (0, 1)"),
            (self.method in ("bo", "random"), "method", "'bo' or 'random'"),
            (self.initialization_budget is None or _is_int(self.initialization_budget)
             and self.initialization_budget >= 1, "initialization_budget", "an integer >= 1"),
            (self.scheduler in ("fifo", "asha"), "scheduler", "'fifo' or 'asha'"),
            (_finite(self.cpus_per_trial) and self.cpus_per_trial > 0, "cpus_per_trial", "a number > 0"),
            (_finite(self.gpus_per_trial) and self.gpus_per_trial >= 0
             and (self.gpus_per_trial <= 1 or float(self.gpus_per_trial).is_integer()),
             "gpus_per_trial", "a fraction in [0, 1] or a whole number of GPUs"),
            (_is_int(self.max_failures) and self.max_failures >= 0, "max_failures", "an integer >= 0"),
            (_is_int(self.robustness_samples) and self.robustness_samples >= 2, "robustness_samples",
             "an integer >= 2"),
            (all(_finite(s) and s >= 0 for s in self.robustness_sigmas), "robustness_sigmas",
             "numbers >= 0"),
            (bool(self.storage_path), "storage_path", "a directory or URI"),
            (self.mode in ("scratch", "warm_start"), "mode", "'scratch' or 'warm_start'"),
            (len(self.noise_injection_bounds) == 2 and all(_finite(b) for b in self.noise_injection_bounds)
             and 0 <= self.noise_injection_bounds[0] < self.noise_injection_bounds[1],
             "noise_injection_bounds", "(low, high) with 0 <= low < high"),
            (not (self.multi_objective and self.objective != "drifted_loss"), "multi_objective",
             "used with objective 'drifted_loss' (the front is drifted loss vs clean accuracy)"),
        ]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SearchConfig":
        """Build from a mapping (e.g. a YAML file), rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserInputError(f"unknown search settings {unknown}; valid settings are {sorted(known)}.")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**fixed)

    @classmethod
    def from_yaml(cls, path: str, **overrides: Any) -> "SearchConfig":
        """Load a YAML mapping of settings; ``overrides`` win over the file."""
        import yaml

        try:
            with open(path) as f:
                values = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as err:
            raise UserInputError(f"could not read search config {path!r}: {err}") from err
        if not isinstance(values, dict):
            raise UserInputError(f"search config {path!r} must be a YAML mapping of settings; "
                                 f"got {type(values).__name__}.")
        return cls.from_dict({**values, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
