"""``bayesft-tune compare``: every method on one task and one data split, paired over seeds.

    bayesft-tune compare --task mnist_mlp --seeds 5

Methods: single trainings from the method registry (``erm``, ``noise_injection``,
``awp``, ``ftna``, ``reram_v``: untuned, at fixed settings); ``uniform_dropout`` (one rate for
every slot, chosen on the validation objective from 0.1 .. 0.7); the baselines tuned with
the search's compute (``*_tuned``: ``--tune-trainings`` trainings each, random search of the
method's main knob on the validation objective, ``hwa_tuned`` = hardware-aware training
with the drift model's own noise); and searches of ``--trials`` trials each:
``bayesft`` (the default search space), ``bayesft_paper`` (per-slot dropout, drifted-loss
objective and training, every trial from scratch) and ``random_search`` (the default space,
same trials, random proposals); ``bayesft_alternating`` is the paper's Algorithm 1 as written
(one network; θ and α in turn, the same epochs in total). Every method of a seed trains on the same split
(``--data-seed``), and every network is scored on its test split with the seed's test
draws, independent of every draw used to select. ``--drift pcm`` (or ``reram_wan2022``)
compares under a device model over time since programming. Writes ``robustness.parquet``,
``compare_tests.parquet`` (paired differences against ``--reference``, raw and Holm-adjusted
p-values), ``tuning.parquet`` (each tuned baseline's chosen knob), ``manifest.json`` (commit,
command, machine, settings hash) and ``compare.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import ray
from ray import tune

from bayesft_tune.argtypes import levels as parse_levels
from bayesft_tune.drift import get_drift
from bayesft_tune.errors import UserInputError
from bayesft_tune.methods import method_names
from bayesft_tune.paired import markdown_table, paired_tests
from bayesft_tune.provenance import MANIFEST, manifest
from bayesft_tune.search.alternating import alternating_rows
from bayesft_tune.search.config import PAPER_SPACE, SearchConfig
from bayesft_tune.search.runner import run_search
from bayesft_tune.search.session import ray_session
from bayesft_tune.storage import write_file
from bayesft_tune.tasks import get_task
from trainables.compare import UNIFORM_RATES, compare_trial
from trainables.tuning import TUNED

__all__ = ["CompareConfig", "SEARCH_METHODS", "main", "run_compare"]

SEARCH_METHODS: dict[str, dict] = {
    "bayesft": {}, "bayesft_paper": {"space": PAPER_SPACE}, "random_search": {"method": "random"},
    # the ablation's levers, one change at a time (bench/RESULTS.md)
    "bayesft_paper_clean": {"space": PAPER_SPACE, "training": "clean"},
    "space_dropout": {"space": ("dropout",), "objective": "grid_accuracy", "training": "clean"},
    "space_dropout_noise": {"space": ("dropout", "noise")},
    "space_dropout_width": {"space": ("dropout", "width")},
    "space_full": {"space": ("dropout", "noise", "width", "activation", "norm", "lr", "weight_decay")},
}
"""Search-based methods and the settings that make each one (on top of the default search)."""
ALTERNATING = "bayesft_alternating"  # Algorithm 1 as the paper writes it (search/alternating.py)
DEFAULT_METHODS = "erm,uniform_dropout,random_search,noise_injection,awp,ftna,reram_v,bayesft_paper,bayesft"


def all_methods() -> list[str]:
    """Every method name ``--methods`` accepts."""
    return [*method_names(), "uniform_dropout", *TUNED, *SEARCH_METHODS, ALTERNATING]


@dataclass(frozen=True)
class CompareConfig:
    """A comparison; validated in one place (each error names the flag and the fix)."""

    task: str = "mnist_mlp"
    methods: tuple[str, ...] = tuple(DEFAULT_METHODS.split(","))
    seeds: int = 5
    first_seed: int = 0
    data_seed: int = 0
    epochs: int | None = None
    samples: int = 32
    sigmas: tuple[float, ...] | None = None
    drift: str = "lognormal"
    trials: int = 20
    tune_trainings: int = 20
    search_samples: int = 16
    concurrency: int = 2
    noise_sigma: float = 0.6
    awp_gamma: float = 0.01
    reference: str = "bayesft"
    out: str | None = None

    def __post_init__(self) -> None:
        drift = SearchConfig(drift=self.drift).scoring.drift  # a bad drift is refused here, by name
        object.__setattr__(self, "drift", drift)
        if self.sigmas is None:
            object.__setattr__(self, "sigmas", tuple(get_drift(drift).default_levels))
        self._check()
        for level in self.sigmas:
            get_drift(drift).check_level(level)
        get_task(self.task)

    def _check(self) -> None:
        time = get_drift(self.drift).axis == "time"
        unknown = [m for m in self.methods if m not in all_methods()]
        rules = [(not unknown and bool(self.methods), "methods", f"names from {all_methods()}"),
                 (self.seeds >= 1, "seeds", "an integer >= 1"), (self.first_seed >= 0, "first-seed", ">= 0"),
                 (self.data_seed >= 0, "data-seed", ">= 0"),
                 (self.samples >= 2, "samples", "an integer >= 2"), (self.trials >= 1, "trials", ">= 1"),
                 (bool(self.sigmas) and 0.0 in self.sigmas and (time or 1.5 in self.sigmas) and min(self.sigmas) >= 0,
                  "sigmas", "a grid of levels >= 0 containing 0 (and 1.5 on the σ axis: the AUC range)"),
                 (self.tune_trainings >= 1, "tune-trainings", "an integer >= 1"),
                 (self.epochs is None or self.epochs >= 1, "epochs", "an integer >= 1"),
                 (self.search_samples >= 2, "search-samples", "an integer >= 2"),
                 (self.concurrency >= 1, "concurrency", "an integer >= 1"),
                 (math.isfinite(self.noise_sigma) and self.noise_sigma >= 0, "noise-sigma", "a finite number >= 0"),
                 (self.out is None or not os.path.isfile(self.out), "out", "a directory (new or existing), not a file"),
                 (0 < self.awp_gamma < 1, "awp-gamma", "in (0, 1)"),
                 (self.reference in self.methods or self.reference == "bayesft", "reference", "one of --methods")]
        for ok, flag, rule in rules:
            if not ok:
                value = unknown if flag == "methods" and unknown else getattr(self, flag.replace("-", "_"))
                raise UserInputError(f"compare --{flag} must be {rule}; got {value!r}. Fix --{flag}.")

    def seed_list(self) -> list[int]:
        """The paired seeds: ``first_seed`` .. ``first_seed + seeds - 1``."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def search(self, method: str, seed: int) -> SearchConfig:
        """The search a search-based method runs for ``seed`` (its test table matches the others')."""
        return SearchConfig(task=self.task, seed=seed, data_seed=self.data_seed, epochs=self.epochs,
                            trials=self.trials, concurrency=self.concurrency, samples=self.search_samples,
                            robustness_sigmas=self.sigmas, robustness_samples=self.samples, erm_baseline=False,
                            drift=self.drift,
                            storage_path=self.out_dir(), name=f"{method}-seed{seed}", verbose=False,
                            **SEARCH_METHODS[method])

    def out_dir(self) -> str:
        """Output directory (absolute)."""
        return os.path.abspath(self.out or os.path.join("runs", f"compare-{self.task}"))  # main() stamps a time

    def trainings(self, method: str) -> int:
        """Networks trained by ``method`` per seed (its compute, in trainings x epochs)."""
        if method in SEARCH_METHODS:
            return self.trials + 1  # the trials and the ERM reference of the clean guard
        if method == ALTERNATING:
            return 1  # one network, trained trials x epochs epochs (see compute_text)
        if method in TUNED:
            return self.tune_trainings
        return len(UNIFORM_RATES) if method == "uniform_dropout" else 1

    def settings(self) -> dict:
        """The settings that make the numbers (what ``manifest.json`` hashes): all but the seeds and ``out``."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("seeds", "first_seed", "out")}


def _grid(cfg: CompareConfig, methods: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not methods:
        return pd.DataFrame(), pd.DataFrame()
    task = get_task(cfg.task)
    base = SearchConfig(task=cfg.task, samples=cfg.search_samples, drift=cfg.drift)
    space = {"task": cfg.task, "epochs": cfg.epochs or task.epochs, "batch_size": task.batch_size, "lr": task.lr,
             "sigmas": list(cfg.sigmas), "samples": cfg.samples, "drift": cfg.drift, "data_seed": cfg.data_seed,
             "objective": base.resolved_objective().to_dict(), "tune_trainings": cfg.tune_trainings,
             "method_options": {"noise_sigma": cfg.noise_sigma, "awp_gamma": cfg.awp_gamma},
             "method": tune.grid_search(methods), "seed": tune.grid_search(cfg.seed_list())}
    results = tune.Tuner(tune.with_resources(compare_trial, {"cpu": 1}), param_space=space,
                         tune_config=tune.TuneConfig(reuse_actors=True),
                         run_config=tune.RunConfig(name="grid", storage_path=cfg.out_dir(), verbose=0)).fit()
    errors = [str(r.error).strip().splitlines()[-1] for r in results if r.error is not None]
    if errors:
        raise UserInputError(f"{len(errors)} compare trial(s) failed, e.g. {errors[0]}")
    rows = pd.concat([pd.read_json(io.StringIO(r.metrics["robustness_json"])) for r in results], ignore_index=True)
    tuned = [json.loads(r.metrics["tuning_json"]) for r in results]
    return rows, pd.DataFrame([t for t in tuned if t])


def _searches(cfg: CompareConfig, methods: list[str]) -> pd.DataFrame:
    parts = []
    for seed in cfg.seed_list():
        for method in methods:
            outcome = run_search(cfg.search(method, seed))
            rows = outcome.robustness[outcome.robustness.method == "bayesft"]
            parts.append(rows.assign(method=method, trial_id=f"seed{seed}"))
            print(f"{method} seed {seed}: returned trial {outcome.best['trial_id'] if outcome.best else None} "
                  f"({outcome.run_dir}, {outcome.wall_time_s:.0f} s)", file=sys.stderr, flush=True)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _alternating(cfg: CompareConfig) -> pd.DataFrame:
    """``bayesft_alternating`` (Algorithm 1, one network per seed) as Ray tasks, one per seed."""
    if "bayesft_alternating" not in cfg.methods:
        return pd.DataFrame()
    objective = SearchConfig(task=cfg.task, drift=cfg.drift, space=PAPER_SPACE).resolved_objective()
    job = ray.remote(num_cpus=1)(alternating_rows)
    return pd.concat(ray.get([job.remote(cfg.task, seed, cfg.data_seed, cfg.trials, cfg.epochs or get_task(cfg.task).epochs,
                                         cfg.drift, objective.target_sigma, cfg.search_samples, list(cfg.sigmas),
                                         cfg.samples) for seed in cfg.seed_list()]), ignore_index=True)


def run_compare(cfg: CompareConfig, argv: list[str] | None = None) -> pd.DataFrame:
    """Train and score every method x seed; returns the robustness rows (written with the
    tuned baselines' choices and the manifest)."""
    os.makedirs(cfg.out_dir(), exist_ok=True)
    with open(os.path.join(cfg.out_dir(), MANIFEST), "w") as f:
        json.dump(manifest(cfg.settings(), argv), f, indent=2)
    with ray_session():
        grid, tuning = _grid(cfg, [m for m in cfg.methods if m not in (*SEARCH_METHODS, ALTERNATING)])
        searches = _searches(cfg, [m for m in cfg.methods if m in SEARCH_METHODS])
        alternating = _alternating(cfg)
    rows = pd.concat([p for p in (grid, searches, alternating) if not p.empty], ignore_index=True)
    write_file(rows, os.path.join(cfg.out_dir(), "robustness.parquet"), "robustness")
    if not tuning.empty:
        write_file(tuning, os.path.join(cfg.out_dir(), "tuning.parquet"), "tuning")
    return rows


def summary_table(cfg: CompareConfig, rows: pd.DataFrame) -> str:
    """Markdown: per method, mean over seeds of each metric (%), compute, and the paired
    difference against the reference with its 95 % CI, raw and Holm-adjusted p-values."""
    epochs = cfg.epochs or get_task(cfg.task).epochs
    compute = {m: f"{cfg.trainings(m)} x {epochs}" + (" (untuned)" if m in method_names() and m != "erm" else "")
               for m in cfg.methods}
    if ALTERNATING in compute:
        compute[ALTERNATING] = f"1 x {cfg.trials * epochs}"
    return markdown_table(rows, cfg.reference, list(cfg.methods), compute)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bayesft-tune compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a, d = p.add_argument, CompareConfig()
    a("--task", default=d.task, help=f"registered task (default {d.task})")
    a("--methods", default=DEFAULT_METHODS, help=f"comma-separated, from {', '.join(all_methods())} "
      f"(default {DEFAULT_METHODS})")
    a("--seeds", type=int, default=d.seeds, help=f"number of seeds, paired across methods (default {d.seeds})")
    a("--first-seed", type=int, default=d.first_seed, help="first seed; seeds run first .. first+N-1 (default 0), "
      "so a later run adds seeds to a comparison")
    a("--data-seed", type=int, default=d.data_seed, help="seed of the one train/val/test split (default 0)")
    a("--epochs", type=int, help="training epochs of every training (default: the task's)")
    a("--samples", type=int, default=d.samples, help=f"test drift draws T per σ (default {d.samples})")
    a("--levels", "--sigmas", dest="sigmas", help="test grid of levels (default: the drift model's: 0,0.3,...,1.5; "
      "pcm 0,1s,1h,1d,30d,1y)")
    a("--drift", default=d.drift, help="drift model (spec) every network is scored under, e.g. pcm or pcm:gdc=false")
    a("--tune-trainings", type=int, default=d.tune_trainings, help="trainings of each *_tuned baseline (default 20)")
    a("--trials", type=int, default=d.trials, help=f"trials of each search (default {d.trials})")
    a("--search-samples", type=int, default=d.search_samples, help="T of the search objective (default 16)")
    a("--concurrency", type=int, default=d.concurrency, help="trials at once in each search (default 2)")
    a("--noise-sigma", type=float, default=d.noise_sigma, help="σ_train of noise_injection (default 0.6)")
    a("--awp-gamma", type=float, default=d.awp_gamma, help="AWP relative perturbation γ (default 0.01)")
    a("--reference", default=d.reference, help="method the paired differences are taken against (default bayesft)")
    a("--out", help="output directory (default runs/compare-<task>)")
    return p


def _config(args: argparse.Namespace) -> CompareConfig:
    try:
        sigmas = parse_levels(args.sigmas) if args.sigmas is not None else None
    except argparse.ArgumentTypeError as err:
        raise UserInputError(f"compare --levels (--sigmas): {err}.") from err
    return CompareConfig(task=args.task, methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
                         seeds=args.seeds, first_seed=args.first_seed, data_seed=args.data_seed, epochs=args.epochs,
                         samples=args.samples,
                         sigmas=sigmas, trials=args.trials, search_samples=args.search_samples,
                         concurrency=args.concurrency, noise_sigma=args.noise_sigma, awp_gamma=args.awp_gamma,
                         reference=args.reference, drift=args.drift, tune_trainings=args.tune_trainings,
                         out=args.out or os.path.join("runs", time.strftime(f"compare-{args.task}-%Y%m%d-%H%M%S")))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bayesft-tune compare``; returns the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        cfg = _config(args)
        started = time.perf_counter()
        rows = run_compare(cfg, ["bayesft-tune", "compare", *(sys.argv[1:] if argv is None else argv)])
    except UserInputError as err:
        print(f"bayesft-tune compare: error: {err}", file=sys.stderr)
        return 2
    out = cfg.out_dir()
    if cfg.reference in set(rows.method):
        write_file(paired_tests(rows, cfg.reference), os.path.join(out, "compare_tests.parquet"), "compare_tests")
    seeds = cfg.seed_list()
    auc = ("mean accuracy over the times after programming" if get_drift(cfg.drift).axis == "time"
           else "mean accuracy over σ in [0, 1.5]")
    text = (f"task {cfg.task}, drift {cfg.drift}, {cfg.seeds} seeds {seeds[0]}..{seeds[-1]} (paired), data split seed "
            f"{cfg.data_seed}, test split, T={cfg.samples} test draws per level (independent of selection draws); "
            f"accuracy in %, mean over seeds; AUC = {auc}; * = Holm-adjusted paired t-test p < 0.05 over the "
            f"methods compared, with the CI excluding 0\n\n"
            + summary_table(cfg, rows) + f"\n\n({time.perf_counter() - started:.0f} s)")
    print(text)
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(text + "\n")
    print(f"\nwritten: {out}/robustness.parquet, compare_tests.parquet, compare.md")
    return 0
