"""``bayesft-tune compare``: every method on one task and one data split, paired over seeds.

    bayesft-tune compare --task mnist_mlp --seeds 5

Methods: single trainings from the method registry (``erm``, ``noise_injection``,
``awp``, ``ftna``, ``reram_v``); ``uniform_dropout`` (one rate for every slot, chosen on
the validation objective from 0.1 .. 0.7); and searches of ``--trials`` trials each:
``bayesft`` (the default search space), ``bayesft_paper`` (the paper's mode: per-slot
dropout, drifted-loss objective and training) and ``random_search`` (the default space,
same trials, random proposals). Every method of a seed trains on the same split
(``--data-seed``), and every network is scored on its test split with the seed's test
draws, independent of every draw used to select. Writes ``robustness.parquet``,
``compare_tests.parquet`` (paired differences against ``--reference``) and ``compare.md``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
from ray import tune

from bayesft_tune.errors import UserInputError
from bayesft_tune.methods import method_names
from bayesft_tune.paired import paired_tests, per_seed
from bayesft_tune.search.config import PAPER_SPACE, SearchConfig
from bayesft_tune.search.runner import run_search
from bayesft_tune.search.session import ray_session
from bayesft_tune.storage import write_file
from bayesft_tune.tasks import get_task
from trainables.compare import UNIFORM_RATES, compare_trial

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
DEFAULT_METHODS = "erm,uniform_dropout,random_search,noise_injection,awp,ftna,reram_v,bayesft_paper,bayesft"


def all_methods() -> list[str]:
    """Every method name ``--methods`` accepts."""
    return [*method_names(), "uniform_dropout", *SEARCH_METHODS]


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
    sigmas: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
    trials: int = 20
    search_samples: int = 16
    concurrency: int = 2
    noise_sigma: float = 0.6
    awp_gamma: float = 0.01
    reference: str = "bayesft"
    out: str | None = None

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in all_methods()]
        rules = [(not unknown and bool(self.methods), "methods", f"names from {all_methods()}"),
                 (self.seeds >= 1, "seeds", "an integer >= 1"), (self.first_seed >= 0, "first-seed", ">= 0"),
                 (self.data_seed >= 0, "data-seed", ">= 0"),
                 (self.samples >= 2, "samples", "an integer >= 2"), (self.trials >= 1, "trials", ">= 1"),
                 (bool(self.sigmas) and 0.0 in self.sigmas and 1.5 in self.sigmas and min(self.sigmas) >= 0,
                  "sigmas", "a σ grid of numbers >= 0 containing 0 and 1.5 (the AUC range)"),
                 (self.epochs is None or self.epochs >= 1, "epochs", "an integer >= 1"),
                 (self.search_samples >= 2, "search-samples", "an integer >= 2"),
                 (self.concurrency >= 1, "concurrency", "an integer >= 1"),
                 (self.noise_sigma >= 0, "noise-sigma", "a number >= 0"),
                 (0 < self.awp_gamma < 1, "awp-gamma", "in (0, 1)"),
                 (self.reference in self.methods or self.reference == "bayesft", "reference", "one of --methods")]
        for ok, flag, rule in rules:
            if not ok:
                value = unknown if flag == "methods" and unknown else getattr(self, flag.replace("-", "_"))
                raise UserInputError(f"compare --{flag} must be {rule}; got {value!r}. Fix --{flag}.")
        get_task(self.task)

    def seed_list(self) -> list[int]:
        """The paired seeds: ``first_seed`` .. ``first_seed + seeds - 1``."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def search(self, method: str, seed: int) -> SearchConfig:
        """The search a search-based method runs for ``seed`` (its test table matches the others')."""
        return SearchConfig(task=self.task, seed=seed, data_seed=self.data_seed, epochs=self.epochs,
                            trials=self.trials, concurrency=self.concurrency, samples=self.search_samples,
                            robustness_sigmas=self.sigmas, robustness_samples=self.samples, erm_baseline=False,
                            storage_path=self.out_dir(), name=f"{method}-seed{seed}", verbose=False,
                            **SEARCH_METHODS[method])

    def out_dir(self) -> str:
        """Output directory (absolute)."""
        return os.path.abspath(self.out or os.path.join("runs", f"compare-{self.task}"))  # main() stamps a time

    def trainings(self, method: str) -> int:
        """Networks trained by ``method`` per seed (its compute, in trainings x epochs)."""
        if method in SEARCH_METHODS:
            return self.trials + 1  # the trials and the ERM reference of the clean guard
        return len(UNIFORM_RATES) if method == "uniform_dropout" else 1


def _grid(cfg: CompareConfig, methods: list[str]) -> pd.DataFrame:
    if not methods:
        return pd.DataFrame()
    task = get_task(cfg.task)
    base = SearchConfig(task=cfg.task, samples=cfg.search_samples)
    space = {"task": cfg.task, "epochs": cfg.epochs or task.epochs, "batch_size": task.batch_size, "lr": task.lr,
             "sigmas": list(cfg.sigmas), "samples": cfg.samples, "drift": "lognormal", "data_seed": cfg.data_seed,
             "objective": base.resolved_objective().to_dict(),
             "method_options": {"noise_sigma": cfg.noise_sigma, "awp_gamma": cfg.awp_gamma},
             "method": tune.grid_search(methods), "seed": tune.grid_search(cfg.seed_list())}
    results = tune.Tuner(tune.with_resources(compare_trial, {"cpu": 1}), param_space=space,
                         tune_config=tune.TuneConfig(reuse_actors=True),
                         run_config=tune.RunConfig(name="grid", storage_path=cfg.out_dir(), verbose=0)).fit()
    errors = [str(r.error).strip().splitlines()[-1] for r in results if r.error is not None]
    if errors:
        raise UserInputError(f"{len(errors)} compare trial(s) failed, e.g. {errors[0]}")
    return pd.concat([pd.read_json(io.StringIO(r.metrics["robustness_json"])) for r in results], ignore_index=True)


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


def run_compare(cfg: CompareConfig) -> pd.DataFrame:
    """Train and score every method x seed; returns the robustness rows (also written)."""
    with ray_session():
        grid = _grid(cfg, [m for m in cfg.methods if m not in SEARCH_METHODS])
        searches = _searches(cfg, [m for m in cfg.methods if m in SEARCH_METHODS])
    rows = pd.concat([p for p in (grid, searches) if not p.empty], ignore_index=True)
    write_file(rows, os.path.join(cfg.out_dir(), "robustness.parquet"), "robustness")
    return rows


def summary_table(cfg: CompareConfig, rows: pd.DataFrame) -> str:
    """Markdown: per method, mean over seeds of each metric (%), compute, and the paired
    difference against the reference with its 95 % CI and p-values."""
    seeds = per_seed(rows)
    metrics = [c for c in seeds.columns if c not in ("method", "trial_id")]
    tests = (paired_tests(rows, cfg.reference) if cfg.reference in set(rows.method)
             else pd.DataFrame(columns=["method", "metric"]))
    head = ("| method | trainings x epochs | " + " | ".join(metrics)
            + f" | AUC - {cfg.reference} [95% CI] | p (t / Wilcoxon) |")
    lines = [head, "|" + "---|" * (len(metrics) + 4)]
    epochs = cfg.epochs or get_task(cfg.task).epochs
    for method in cfg.methods:
        g = seeds[seeds.method == method]
        cells = " | ".join(f"{100 * g[m].mean():.1f}" for m in metrics)
        t = tests[(tests.method == method) & (tests.metric == "auc")]
        diff = ("–", "–") if t.empty else (
            f"{100 * t['diff'].iloc[0]:+.1f} [{100 * t.ci_low.iloc[0]:+.1f}, {100 * t.ci_high.iloc[0]:+.1f}]"
            + (" *" if bool(t.significant.iloc[0]) else ""),
            f"{t.t_p_value.iloc[0]:.3g} / {t.wilcoxon_p_value.iloc[0]:.3g}")
        lines.append(f"| {method} | {cfg.trainings(method)} x {epochs} | {cells} | {diff[0]} | {diff[1]} |")
    return "\n".join(lines)


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
    a("--sigmas", default="0,0.3,0.6,0.9,1.2,1.5", help="test σ grid (default 0,0.3,...,1.5)")
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
        sigmas = tuple(float(s) for s in args.sigmas.split(",") if s.strip())
    except ValueError as err:
        raise UserInputError(f"compare --sigmas must be comma-separated numbers; got {args.sigmas!r}.") from err
    return CompareConfig(task=args.task, methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
                         seeds=args.seeds, first_seed=args.first_seed, data_seed=args.data_seed, epochs=args.epochs,
                         samples=args.samples,
                         sigmas=sigmas, trials=args.trials, search_samples=args.search_samples,
                         concurrency=args.concurrency, noise_sigma=args.noise_sigma, awp_gamma=args.awp_gamma,
                         reference=args.reference,
                         out=args.out or os.path.join("runs", time.strftime(f"compare-{args.task}-%Y%m%d-%H%M%S")))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bayesft-tune compare``; returns the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        cfg = _config(args)
        started = time.perf_counter()
        rows = run_compare(cfg)
    except UserInputError as err:
        print(f"bayesft-tune compare: error: {err}", file=sys.stderr)
        return 2
    out = cfg.out_dir()
    if cfg.reference in set(rows.method):
        write_file(paired_tests(rows, cfg.reference), os.path.join(out, "compare_tests.parquet"), "compare_tests")
    seeds = cfg.seed_list()
    text = (f"task {cfg.task}, {cfg.seeds} seeds {seeds[0]}..{seeds[-1]} (paired), data split seed {cfg.data_seed}, test split, "
            f"T={cfg.samples} test draws per σ (independent of selection draws); accuracy in %, mean over seeds; "
            f"AUC = mean accuracy over σ in [0, 1.5]; * = paired t-test p < 0.05 with the CI excluding 0\n\n"
            + summary_table(cfg, rows) + f"\n\n({time.perf_counter() - started:.0f} s)")
    print(text)
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(text + "\n")
    print(f"\nwritten: {out}/robustness.parquet, compare_tests.parquet, compare.md")
    return 0
