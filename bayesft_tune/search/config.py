"""``SearchConfig``: everything a BayesFT search needs, validated in one place."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Literal

from bayesft_tune.drift import get_drift
from bayesft_tune.errors import UserInputError
from bayesft_tune.objective import Objective
from bayesft_tune.seeds import stream_seed
from bayesft_tune.tasks import KNOBS, Space, TrialSpec, get_task

__all__ = ["DEFAULT_SPACE", "PAPER_SPACE", "SearchConfig"]

DEFAULT_SPACE: tuple[str, ...] = ("dropout", "width", "noise")
"""Knobs of the default search (the combination that won the ablation in bench/RESULTS.md)."""
PAPER_SPACE: tuple[str, ...] = ("dropout",)
"""The paper's mode: per-slot dropout rates only, drifted-loss objective and training."""


@dataclass(frozen=True)
class SearchConfig:
    """A BayesFT search.

    Attributes:
        task: registered task (``bayesft_tune.tasks.TASKS``), e.g. ``"mnist_mlp"``.
        space: knobs the search owns (``bayesft_tune.tasks.KNOBS``): ``("dropout",)`` is the
            paper's mode; the default adds the hidden widths (under the task network's
            parameter budget) and σ_train of drifted-loss training. None: :data:`DEFAULT_SPACE`
            less the architecture knobs the task's model lacks.
        trials: trials to run in total.
        concurrency: trials running at once (also Ax's batch size).
        target_sigma: σ at which the objective (MC drifted loss, Eq. 4) is measured.
        samples: Monte Carlo draws T per evaluation.
        epochs: training epochs per trial (None: the task's default).
        batch_size, lr: training settings (None: the task's defaults).
        bounds: ``(low, high)`` of every dropout rate; ``0 <= low < high < 1``.
        seed: the run seed: Ax, and independent streams (``bayesft_tune.seeds``) for
            training, the selection draws, re-selection and the test draws.
        data_seed: seed of the train/val/test split (explicit; never derived from ``seed``).
        objective: ``"drifted_loss"`` (minimise, the paper's Eq. 4) or ``"grid_accuracy"``
            (maximise the mean accuracy over ``objective_sigmas``); None: drifted_loss in
            the paper's space, grid_accuracy otherwise.
        training: ``"drifted"`` (Algorithm 1: θ follows the gradient of the drifted loss
            at ``target_sigma``) or ``"clean"``; None: drifted in the paper's space, clean
            otherwise (the ``noise`` knob then sets σ_train per trial).
        clean_guard: the returned network's clean validation accuracy may be at most this
            far below an ERM reference the search trains first (Ax outcome constraint and
            re-selection filter); None: no guard.
        eval_every: compute the MC objective (and checkpoint) every N epochs; None: only
            at the last epoch and at ASHA's rungs.
        reselect_top_k: top trials re-scored with fresh draws to choose the returned one.
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
        width_ratio_bounds, lr_bounds, weight_decay_bounds: log-scale ranges of those knobs.
        activations, norms: values of the ``activation`` and ``norm`` knobs.
        multi_objective: Ax multi-objective search for the Pareto front of drifted loss
            (minimised) vs clean accuracy (maximised); writes ``pareto.parquet`` and
            ``pareto.png``. The best trial (robustness table) is still the lowest
            drifted loss.
    """

    task: str = "mnist_mlp"
    space: tuple[str, ...] | None = None
    trials: int = 30
    concurrency: int = 2
    target_sigma: float = 0.9
    samples: int = 16
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    bounds: tuple[float, float] = (0.0, 0.8)
    seed: int = 0
    data_seed: int = 0
    objective: Literal["drifted_loss", "grid_accuracy"] | None = None
    training: Literal["clean", "drifted"] | None = None
    clean_guard: float | None = 0.01
    eval_every: int | None = None
    reselect_top_k: int = 3
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
    width_ratio_bounds: tuple[float, float] = (0.125, 8.0)
    lr_bounds: tuple[float, float] = (1e-4, 1e-2)
    weight_decay_bounds: tuple[float, float] = (1e-6, 1e-2)
    activations: tuple[str, ...] = ("relu", "elu", "gelu", "tanh")
    norms: tuple[str, ...] = ("none", "layer")
    multi_objective: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.space, str):
            object.__setattr__(self, "space", tuple(k.strip() for k in self.space.split(",") if k.strip()))
        if self.space is None:  # the default knobs this task's model supports
            supported = get_task(self.task).arch_knobs if isinstance(self.task, str) else ()
            object.__setattr__(self, "space", tuple(k for k in DEFAULT_SPACE if k not in
                                                    ("width", "activation", "norm") or k in supported))
        if self.search_noise_injection and "noise" not in self.space:  # the older spelling of --space +noise
            object.__setattr__(self, "space", (*self.space, "noise"))
        for pair in ("bounds", "noise_injection_bounds", "width_ratio_bounds", "lr_bounds", "weight_decay_bounds"):
            if not _pair(getattr(self, pair)):
                raise UserInputError(f"search {pair} must be two numbers (low, high); got {pair}="
                                     f"{getattr(self, pair)!r}. Fix --{pair.replace('_', '-')} (e.g. 0,0.8) "
                                     f"or '{pair}: [low, high]' in the YAML config.")
        for rule_ok, fld, rule in self._rules():
            if not rule_ok:
                raise UserInputError(f"search {fld} must be {rule}; got {fld}={getattr(self, fld)!r}. "
                                     f"Fix --{fld.replace('_', '-')} (or '{fld}:' in the YAML config).")
        get_drift(self.drift)
        self.search_space().check_task(get_task(self.task))
        self.resolved_objective()

    def _rules(self) -> list[tuple[bool, str, str]]:
        lo, hi = self.bounds
        return self._space_rules() + [
            (_is_int(self.trials) and self.trials >= 1, "trials", "an integer >= 1"),
            (_is_int(self.concurrency) and self.concurrency >= 1, "concurrency", "an integer >= 1"),
            (_finite(self.target_sigma) and self.target_sigma > 0, "target_sigma", "a number > 0"),
            (_is_int(self.samples) and self.samples >= 2, "samples", "an integer >= 2 (an SEM needs 2)"),
            (self.epochs is None or _is_int(self.epochs) and self.epochs >= 1, "epochs", "an integer >= 1"),
            (self.batch_size is None or _is_int(self.batch_size) and self.batch_size >= 1, "batch_size",
             "an integer >= 1"),
            (self.lr is None or _finite(self.lr) and self.lr > 0, "lr", "a number > 0"),
            (0.0 <= lo < hi < 1.0, "bounds", "(low, high) with 0 <= low < high < 1"),
            (self.objective in (None, "drifted_loss", "grid_accuracy"), "objective",
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
            (len(self.robustness_sigmas) >= 1 and all(_finite(s) and s >= 0 for s in self.robustness_sigmas),
             "robustness_sigmas", "one or more numbers >= 0"),
            (isinstance(self.download, bool), "download", "true or false (a YAML boolean, not a string)"),
            (isinstance(self.erm_baseline, bool), "erm_baseline", "true or false"),
            (isinstance(self.verbose, bool), "verbose", "true or false"),
            (isinstance(self.multi_objective, bool), "multi_objective", "true or false"),
            (bool(self.storage_path), "storage_path", "a directory or URI"),
            (self.mode in ("scratch", "warm_start"), "mode", "'scratch' or 'warm_start'"),
            (len(self.noise_injection_bounds) == 2 and all(_finite(b) for b in self.noise_injection_bounds)
             and 0 <= self.noise_injection_bounds[0] < self.noise_injection_bounds[1],
             "noise_injection_bounds", "(low, high) with 0 <= low < high"),
            (not (self.multi_objective and self.resolved_objective_name() != "drifted_loss"), "multi_objective",
             "used with objective 'drifted_loss' (the front is drifted loss vs clean accuracy)"),
        ]

    def _space_rules(self) -> list[tuple[bool, str, str]]:
        arch = {"width", "activation", "norm"} & set(self.space)
        return [
            (_is_int(self.data_seed) and self.data_seed >= 0, "data_seed", "an integer >= 0"),
            (_is_int(self.seed) and self.seed >= 0, "seed", "an integer >= 0"),
            (self.training in (None, "clean", "drifted"), "training", "'clean' or 'drifted'"),
            (self.clean_guard is None or _finite(self.clean_guard) and 0 <= self.clean_guard < 1,
             "clean_guard", "a fraction in [0, 1) (e.g. 0.01 = one point below ERM), or null"),
            (self.eval_every is None or _is_int(self.eval_every) and self.eval_every >= 1, "eval_every",
             "an integer >= 1"),
            (_is_int(self.reselect_top_k) and self.reselect_top_k >= 1, "reselect_top_k", "an integer >= 1"),
            (not (self.mode == "warm_start" and arch), "mode",
             f"'scratch' when the space changes the architecture ({sorted(arch)}): weights of one "
             "architecture cannot warm-start another"),
            (not (self.training == "drifted" and "noise" in self.space), "training",
             "left unset when the space searches 'noise' (σ_train is then a searched knob)"),
        ]

    def resolved_objective_name(self) -> str:
        """``objective``, or its default for the space (drifted_loss in the paper's mode)."""
        return self.objective or ("drifted_loss" if tuple(self.space) == PAPER_SPACE else "grid_accuracy")

    def resolved_training(self) -> str:
        """``training``, or its default for the space (drifted in the paper's mode)."""
        return self.training or ("drifted" if tuple(self.space) == PAPER_SPACE else "clean")

    def resolved_objective(self) -> Objective:
        """The trials' objective."""
        return Objective(self.resolved_objective_name(), float(self.target_sigma),  # type: ignore[arg-type]
                         tuple(float(s) for s in self.objective_sigmas), int(self.samples))

    def search_space(self) -> Space:
        """The searched knobs and their ranges."""
        fixed = float(self.target_sigma) if self.resolved_training() == "drifted" else 0.0
        return Space(knobs=tuple(self.space), dropout_bounds=tuple(self.bounds),
                     noise_bounds=tuple(self.noise_injection_bounds),
                     width_ratio_bounds=tuple(self.width_ratio_bounds), activations=tuple(self.activations),
                     norms=tuple(self.norms), lr_bounds=tuple(self.lr_bounds),
                     weight_decay_bounds=tuple(self.weight_decay_bounds), fixed_noise=fixed)

    def trial_spec(self, eval_epochs: tuple[int, ...] = ()) -> TrialSpec:
        """The spec every trial of this search shares (seed streams derived from ``seed``)."""
        task = get_task(self.task)
        return TrialSpec(task=self.task, space=self.search_space(), epochs=int(self.epochs or task.epochs),
                         batch_size=int(self.batch_size or task.batch_size), lr=float(self.lr or task.lr),
                         objective=self.resolved_objective(), drift=self.drift,
                         train_seed=stream_seed(self.seed, "train"), select_seed=stream_seed(self.seed, "select"),
                         data_seed=int(self.data_seed), eval_epochs=eval_epochs,
                         data_dir=os.path.abspath(self.data_dir) if self.data_dir else None,
                         download=bool(self.download))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SearchConfig":
        """Build from a mapping (e.g. a YAML file), rejecting unknown keys by name."""
        if not isinstance(values, dict):
            raise UserInputError(f"search settings must be a mapping; got {type(values).__name__}.")
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


def _pair(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and len(v) == 2 and all(_finite(x) for x in v)
