"""``SearchConfig``: everything a BayesFT search needs, in small parts, validated in one place.

A search is built from flat settings (the ``--flags`` with ``_``, the YAML keys, the keys
of a run's ``search_config.json``), ``SearchConfig(trials=20, space=("dropout",))``, or
from its parts, ``SearchConfig(searcher=SearcherConfig(trials=20))``; a flat setting wins
over the part it belongs to. Each flat setting is also a read-only attribute
(``cfg.trials`` is ``cfg.searcher.trials``); the parts and their rules are in
:mod:`bayesft_tune.search.settings`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import yaml

from bayesft_tune.drift import drift_spec, get_drift
from bayesft_tune.errors import UserInputError
from bayesft_tune.objective import Objective
from bayesft_tune.search.settings import (FLAT_KEYS, PARTS, FinalConfig, MultiObjectiveConfig, ObjectiveConfig,
                                          ResourceConfig, Rule, SearcherConfig, SpaceConfig, StorageConfig,
                                          TrainingConfig, WarmStartConfig, pair)
from bayesft_tune.seeds import stream_seed
from bayesft_tune.tasks import Space, TrialSpec, get_task, reference_for
from bayesft_tune.tasks.source import data_reference

__all__ = ["DEFAULT_SPACE", "PAPER_SPACE", "FinalConfig", "MultiObjectiveConfig", "ObjectiveConfig",
           "ResourceConfig", "SearchConfig", "SearcherConfig", "SpaceConfig", "StorageConfig", "TrainingConfig",
           "WarmStartConfig"]

DEFAULT_SPACE: tuple[str, ...] = ("dropout", "width", "noise")
"""Knobs of the default search (the combination that won the ablation in bench/RESULTS.md)."""
PAPER_SPACE: tuple[str, ...] = ("dropout",)
"""The paper's mode: per-slot dropout rates only, drifted-loss objective and training."""
ARCH_KNOBS = ("width", "activation", "norm")
FOLDED = ("data", "model", "gdc")
"""Flat settings folded into the task reference when a config is built (always None after)."""


@dataclass(frozen=True, init=False)
class SearchConfig:
    """A BayesFT search: its parts (see :mod:`bayesft_tune.search.settings`).

    Attributes:
        domain: the searched knobs and their ranges.
        scoring: the objective, its drift model and the clean-accuracy guard.
        train: the task, its data and how every trial trains.
        searcher: trials, concurrency, the run seed, Ax's method and the scheduler.
        warm_start: whether trials start from scratch or from the best trial's weights.
        pareto: whether the search is multi-objective (drifted loss vs clean accuracy).
        resources: per-trial CPUs/GPUs, the Ray cluster and retries.
        storage: where the run lives and whether it prints progress.
        final: re-selection of the returned trial and the test table.
    """

    domain: SpaceConfig
    scoring: ObjectiveConfig
    train: TrainingConfig
    searcher: SearcherConfig
    warm_start: WarmStartConfig
    pareto: MultiObjectiveConfig
    resources: ResourceConfig
    storage: StorageConfig
    final: FinalConfig

    def __init__(self, **settings: Any) -> None:
        """Build from flat settings and/or parts (keyword = the part's attribute name); validates."""
        _refuse_unknown(settings, (*FLAT_KEYS, *PARTS))
        for name, part in _parts(settings).items():
            object.__setattr__(self, name, part)
        _validate(self)

    def resolved_objective_name(self) -> str:
        """``objective``, or its default for the space (drifted_loss in the paper's mode)."""
        return self.scoring.objective or ("drifted_loss" if self.domain.space == PAPER_SPACE else "grid_accuracy")

    def resolved_training(self) -> str:
        """``training``, or its default for the space (drifted in the paper's mode)."""
        return self.train.training or ("drifted" if self.domain.space == PAPER_SPACE else "clean")

    def resolved_objective(self) -> Objective:
        """The trials' objective."""
        s = self.scoring
        return Objective(self.resolved_objective_name(), float(s.target_sigma),  # type: ignore[arg-type]
                         tuple(float(x) for x in s.objective_sigmas), int(s.samples))

    def search_space(self) -> Space:
        """The searched knobs and their ranges."""
        d = self.domain
        device = get_drift(self.scoring.drift).axis == "time"  # σ_train scales the device's noise at the target
        fixed = (1.0 if device else float(self.scoring.target_sigma)) if self.resolved_training() == "drifted" else 0.0
        return Space(knobs=tuple(d.space), dropout_bounds=tuple(d.bounds),
                     noise_bounds=tuple(d.noise_injection_bounds), width_ratio_bounds=tuple(d.width_ratio_bounds),
                     activations=tuple(d.activations), norms=tuple(d.norms), lr_bounds=tuple(d.lr_bounds),
                     weight_decay_bounds=tuple(d.weight_decay_bounds), fixed_noise=fixed)

    def trial_spec(self, eval_epochs: tuple[int, ...] = ()) -> TrialSpec:
        """The spec every trial of this search shares (seed streams derived from ``seed``)."""
        t, seed = self.train, self.searcher.seed
        task = get_task(t.task)
        return TrialSpec(task=t.task, space=self.search_space(), epochs=int(t.epochs or task.epochs),
                         batch_size=int(t.batch_size or task.batch_size), lr=float(t.lr or task.lr),
                         objective=self.resolved_objective(), drift=self.scoring.drift,
                         train_seed=stream_seed(seed, "train"), select_seed=stream_seed(seed, "select"),
                         data_seed=int(t.data_seed), eval_epochs=eval_epochs,
                         data_dir=os.path.abspath(t.data_dir) if t.data_dir else None, download=bool(t.download))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SearchConfig":
        """Build from flat settings (a YAML file, a run's ``search_config.json``), rejecting
        unknown keys by name."""
        if not isinstance(values, dict):
            raise UserInputError(f"search settings must be a mapping; got {type(values).__name__}.")
        _refuse_unknown(values, FLAT_KEYS)
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str, **overrides: Any) -> "SearchConfig":
        """Load a YAML mapping of flat settings; ``overrides`` win over the file."""
        try:
            with open(path) as f:
                values = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
            raise UserInputError(f"could not read search config {path!r} as YAML text: {err}. Pass a YAML mapping "
                                 "of settings (e.g. 'trials: 20').") from err
        if not isinstance(values, dict):
            raise UserInputError(f"search config {path!r} must be a YAML mapping of settings; "
                                 f"got {type(values).__name__}.")
        return cls.from_dict({**values, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The flat settings (what ``search_config.json`` holds and :meth:`from_dict` reads)."""
        parts = {name: dataclasses.asdict(getattr(self, name)) for name in PARTS}
        return {key: parts[part][key] for key, part in FLAT_KEYS.items() if key not in FOLDED}


def _flat(part: str, key: str) -> property:
    return property(lambda self: getattr(getattr(self, part), key), doc=f"``{part}.{key}``")


for _key, _part in FLAT_KEYS.items():  # cfg.trials is cfg.searcher.trials, for every flat setting
    setattr(SearchConfig, _key, _flat(_part, _key))


def _refuse_unknown(values: dict[str, Any], known) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserInputError(f"unknown search settings {unknown}; valid settings are {sorted(FLAT_KEYS)}.")


def _parts(settings: dict[str, Any]) -> dict[str, Any]:
    """Every part: the one given (or its defaults) with the flat settings that belong to it;
    YAML/JSON lists become tuples, and the space its default for the task if unset."""
    out = {}
    for name, cls in PARTS.items():
        base = settings.get(name, cls())
        if not isinstance(base, cls):
            raise UserInputError(f"search {name} must be a {cls.__name__}; got {type(base).__name__}.")
        flat = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items() if FLAT_KEYS.get(k) == name}
        out[name] = dataclasses.replace(base, **flat)
    out["train"] = _with_task_reference(out["train"])
    out["scoring"], out["final"] = _with_drift_levels(out["scoring"], out["final"])
    out["domain"] = dataclasses.replace(out["domain"], space=_space(out["domain"], out["train"].task))
    return out


def _with_drift_levels(scoring: ObjectiveConfig, final: FinalConfig) -> tuple[ObjectiveConfig, FinalConfig]:
    """A device model's spec with every choice recorded (``pcm:g_max=25,gdc=true``) and its own
    level grids in place of the σ defaults; ``gdc`` folded into the spec."""
    if not isinstance(scoring.drift, str):
        return scoring, final  # the rules say what is wrong
    drift = get_drift(scoring.drift)
    if scoring.gdc is not None and not hasattr(drift, "gdc"):
        raise UserInputError(f"--gdc (global drift compensation) applies to the device models pcm and reram_wan2022; "
                             f"got drift {scoring.drift!r}. Drop --gdc/--no-gdc or pass --drift pcm.")
    if drift.axis != "time":
        return scoring, final
    spec = drift_spec(get_drift(scoring.drift, **({} if scoring.gdc is None else {"gdc": scoring.gdc})))
    defaults, final_defaults = ObjectiveConfig(), FinalConfig()
    objective = drift.objective_levels if scoring.objective_sigmas == defaults.objective_sigmas else \
        scoring.objective_sigmas
    target = objective[-1] if scoring.target_sigma == defaults.target_sigma else scoring.target_sigma
    grid = drift.default_levels if final.robustness_sigmas == final_defaults.robustness_sigmas else \
        final.robustness_sigmas
    return (dataclasses.replace(scoring, drift=spec, gdc=None, objective_sigmas=tuple(objective), target_sigma=target),
            dataclasses.replace(final, robustness_sigmas=tuple(grid)))


def _check_levels(cfg: SearchConfig) -> None:
    """Every level on the drift model's axis, and one it knows (e.g. NeuRRAM's measured times)."""
    drift = get_drift(cfg.scoring.drift)
    for flag, values in (("--objective-levels", cfg.scoring.objective_sigmas),
                         ("--target-level", (cfg.scoring.target_sigma,)),
                         ("--robustness-levels", cfg.final.robustness_sigmas)):
        for value in values:
            try:
                drift.check_level(value)
            except UserInputError as err:
                raise UserInputError(f"{flag}: {err}") from err


def _with_task_reference(train: TrainingConfig) -> TrainingConfig:
    """``train`` with its task as a reference string (``data``/``model`` folded in), resolved
    here: a task that does not load is refused before anything starts."""
    if train.model is not None and train.data is None:
        raise UserInputError(f"--model {train.model!r} needs --data (a .npz or an ImageFolder directory): a task "
                             "brings its own model. Add --data PATH, or drop --model.")
    if train.data is None:
        return dataclasses.replace(train, task=reference_for("mnist_mlp" if train.task is None else train.task))
    if train.task is not None:
        raise UserInputError(f"--data {train.data!r} was given together with --task {train.task!r}, which has its "
                             "own data. Pass --data with --model (a registered model or file.py:NAME), or --task "
                             "alone.")
    if not isinstance(train.data, str) or not (train.model is None or isinstance(train.model, str)):
        raise UserInputError(f"--data must be a path and --model a name or file.py:NAME; got data={train.data!r}, "
                             f"model={train.model!r}.")
    return dataclasses.replace(train, task=reference_for(data_reference(train.data, train.model)), data=None,
                               model=None)


def _space(domain: SpaceConfig, task: Any) -> tuple[str, ...] | Any:
    """The knobs as a tuple: a comma-separated string split, None the default knobs the task's
    model supports, plus ``noise`` if ``search_noise_injection`` (the older spelling)."""
    space = domain.space
    if isinstance(space, str):
        space = tuple(k.strip() for k in space.split(",") if k.strip())
    if space is None:
        supported = get_task(task).arch_knobs if isinstance(task, str) else ()
        space = tuple(k for k in DEFAULT_SPACE if k not in ARCH_KNOBS or k in supported)
    if domain.search_noise_injection is True and isinstance(space, tuple) and "noise" not in space:
        space = (*space, "noise")
    return space


def _validate(cfg: SearchConfig) -> None:
    """The one place a search's settings are checked: each error names the rule, the value and the fix."""
    for name in SpaceConfig.PAIRS:
        if not pair(getattr(cfg.domain, name)):
            raise UserInputError(f"search {name} must be two numbers (low, high); got {name}="
                                 f"{getattr(cfg.domain, name)!r}. Fix --{name.replace('_', '-')} (e.g. 0,0.8) "
                                 f"or '{name}: [low, high]' in the YAML config.")
    for ok, key, rule in [r for part in PARTS for r in getattr(cfg, part).rules()] + _joint_rules(cfg):
        if not ok:
            raise UserInputError(f"search {key} must be {rule}; got {key}={getattr(cfg, key)!r}. "
                                 f"Fix --{key.replace('_', '-')} (or '{key}:' in the YAML config).")
    _check_levels(cfg)
    cfg.search_space().check_task(get_task(cfg.train.task))
    cfg.resolved_objective()


def _joint_rules(cfg: SearchConfig) -> list[Rule]:
    """Rules that span parts."""
    space = cfg.domain.space
    knobs = isinstance(space, tuple) and all(isinstance(k, str) for k in space)
    arch = sorted(set(ARCH_KNOBS) & set(space)) if knobs else []
    return [
        (knobs, "space", "knob names (a list, or comma-separated)"),
        (not (cfg.warm_start.mode == "warm_start" and arch), "mode",
         f"'scratch' when the space changes the architecture ({arch}): weights of one "
         "architecture cannot warm-start another"),
        (not (cfg.warm_start.mode == "alternating" and space != PAPER_SPACE), "mode",
         "'alternating' only with --space dropout (Algorithm 1 searches the dropout rates alone)"),
        (not (cfg.train.training == "drifted" and knobs and "noise" in space), "training",
         "left unset when the space searches 'noise' (σ_train is then a searched knob)"),
        (not (cfg.pareto.multi_objective and cfg.resolved_objective_name() != "drifted_loss"), "multi_objective",
         "used with objective 'drifted_loss' (the front is drifted loss vs clean accuracy)"),
    ]
