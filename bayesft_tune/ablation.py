"""``bayesft-tune ablation``: the paper's §III.A / Fig. 2 study on the MNIST MLP.

Factors, each varied alone from the reference (784-192-32-10, ReLU, no dropout, no
normalisation): dropout vs alpha dropout at several rates; batch / layer / instance /
group normalisation; depth 2-6 Linear layers; ReLU / LeakyReLU / ELU / GELU. Each
variant trains with several seeds (a Ray Tune grid, ``tune.grid_search``) and is scored
on the test split under lognormal drift; Welch's t-test across seeds marks which
differences from the reference are significant (the paper's (*)).

Output: ``<out>/ablation.parquet`` (schema ``ABLATION``), ``<out>/ablation_tests.parquet``
(schema ``ABLATION_TESTS``) and ``<out>/ablation.md`` (the printed table).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from ray import tune
from scipy import stats

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.session import ray_session
from bayesft_tune.storage import write_file
from bayesft_tune.tasks.ablation import AblationVariant, build_ablation_mlp, default_variants, variant_rows
from trainables.ablation import ablation_trial

__all__ = ["AblationConfig", "AblationVariant", "build_ablation_mlp", "default_variants", "main", "run_ablation",
           "significance", "variant_rows"]


def _metric_values(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``variant, factor, seed, value`` for ``"auc"`` or ``"accuracy@<σ>"``."""
    if metric == "auc":
        return rows.groupby(["factor", "variant", "seed"], as_index=False).auc.first().rename(columns={"auc": "value"})
    sigma = float(metric.split("@")[1])
    sub = rows[np.isclose(rows.sigma, sigma)]
    return sub[["factor", "variant", "seed", "accuracy_mean"]].rename(columns={"accuracy_mean": "value"})


def significance(rows: pd.DataFrame, metrics: Sequence[str] = ("auc", "accuracy@0.9"),
                 alpha: float = 0.05, reference: str = "reference") -> pd.DataFrame:
    """Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) of every variant vs the
    reference, per metric, across seeds. ``significant`` = ``p < alpha`` (the paper's (*)).

    Raises:
        UserInputError: the reference variant is missing.
    """
    out = []
    for metric in metrics:
        values = _metric_values(rows, metric)
        ref = values[values.variant == reference].value.to_numpy(float)
        if len(ref) == 0:
            raise UserInputError(f"significance needs the {reference!r} variant in the rows; got "
                                 f"{sorted(set(rows.variant))}. Include it in the grid.")
        for (factor, variant), g in values[values.variant != reference].groupby(["factor", "variant"], sort=False):
            v = g.value.to_numpy(float)
            t, p = stats.ttest_ind(v, ref, equal_var=False) if len(v) > 1 and len(ref) > 1 else (np.nan, np.nan)
            out.append({"factor": factor, "variant": variant, "metric": metric, "mean": v.mean(),
                        "reference_mean": ref.mean(), "diff": v.mean() - ref.mean(), "t_stat": float(t),
                        "p_value": float(p), "significant": bool(p < alpha) if np.isfinite(p) else pd.NA,
                        "n": len(v)})
    return pd.DataFrame(out)


@dataclass(frozen=True)
class AblationConfig:
    """An ablation; validated in one place (each error names the flag, the value and the fix).

    Attributes:
        seeds: seeds per variant (0 .. seeds - 1), for Welch's t-test across seeds.
        epochs, samples: training epochs per variant; Monte Carlo drift draws T per σ.
        sigmas: the σ grid of the test table (AUC over it).
        rates: the dropout rates of the dropout / alpha-dropout variants.
        only: variant labels to run (the reference always runs); empty: all.
        alpha: significance level of Welch's t-test.
        out: output directory (None: ``runs/ablation-<timestamp>``).
    """

    seeds: int = 3
    epochs: int = 5
    samples: int = 16
    sigmas: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
    rates: tuple[float, ...] = (0.1, 0.3, 0.5)
    only: tuple[str, ...] = ()
    alpha: float = 0.05
    out: str | None = None

    def __post_init__(self) -> None:
        rules = [(self.seeds >= 1, "seeds", ">= 1 (an integer)"), (self.epochs >= 1, "epochs", ">= 1 (an integer)"),
                 (self.samples >= 2, "samples", ">= 2 (an integer; an SEM needs 2)"),
                 (bool(self.sigmas) and all(math.isfinite(x) and x >= 0 for x in self.sigmas), "sigmas",
                  "finite σ values >= 0"),
                 (bool(self.rates) and all(0 <= r < 1 for r in self.rates), "rates", "rates in [0, 1)"),
                 (0 < self.alpha < 1, "alpha", "in (0, 1)"),
                 (set(self.only) != {"reference"}, "only", "naming a variant besides the reference (it always runs)"),
                 (self.out is None or not os.path.isfile(self.out), "out", "a directory (new or existing), not a file")]
        for ok, flag, rule in rules:
            if not ok:
                raise UserInputError(f"ablation needs --{flag} {rule}; got {getattr(self, flag)!r}. Fix --{flag}.")
        self.variants()

    def variants(self) -> list[AblationVariant]:
        """The variants to run: all of them, or ``only`` and the reference.

        Raises:
            UserInputError: ``only`` names a variant that does not exist.
        """
        variants = default_variants(self.rates)
        if not self.only:
            return variants
        wanted = set(self.only) | {"reference"}
        unknown = sorted(wanted - {v.variant for v in variants})
        if unknown:
            raise UserInputError(f"unknown ablation variants {unknown}; valid are "
                                 f"{[v.variant for v in variants]}. Fix --only.")
        return [v for v in variants if v.variant in wanted]

    def out_dir(self) -> str:
        """Output directory (absolute)."""
        return os.path.abspath(self.out or os.path.join("runs", time.strftime("ablation-%Y%m%d-%H%M%S")))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bayesft-tune ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a, d = p.add_argument, AblationConfig()
    a("--seeds", type=int, default=d.seeds, help=f"seeds per variant (default {d.seeds})")
    a("--epochs", type=int, default=d.epochs, help=f"training epochs per variant (default {d.epochs})")
    a("--samples", type=int, default=d.samples, help=f"Monte Carlo drift samples T per σ (default {d.samples})")
    a("--sigmas", default="0,0.3,0.6,0.9,1.2,1.5", help="σ grid (default 0,0.3,...,1.5)")
    a("--rates", default="0.1,0.3,0.5", help="dropout rates (default 0.1,0.3,0.5)")
    a("--only", help="comma-separated variant labels to run (the reference is always included)")
    a("--alpha", type=float, default=d.alpha, help=f"significance level of Welch's t-test (default {d.alpha})")
    a("--out", help="output directory (default runs/ablation-<timestamp>)")
    return p


def _numbers(text: str, flag: str) -> tuple[float, ...]:
    """Comma-separated numbers of one flag (their rule is checked by :class:`AblationConfig`)."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise UserInputError(f"ablation needs {flag} comma-separated numbers; got {text!r}. Fix {flag}.")
    return values


def _config(args: argparse.Namespace) -> AblationConfig:
    only = tuple(w.strip() for w in (args.only or "").split(",") if w.strip())
    return AblationConfig(seeds=args.seeds, epochs=args.epochs, samples=args.samples,
                          sigmas=_numbers(args.sigmas, "--sigmas"), rates=_numbers(args.rates, "--rates"),
                          only=only, alpha=args.alpha, out=args.out)


def run_ablation(cfg: AblationConfig) -> tuple[pd.DataFrame, str]:
    """Run the grid (variants x seeds) on Ray Tune; returns the rows and the output directory."""
    out = cfg.out_dir()
    space = {"variant": tune.grid_search([asdict(v) for v in cfg.variants()]),
             "seed": tune.grid_search(list(range(cfg.seeds))), "epochs": cfg.epochs, "batch_size": 64,
             "lr": 1e-3, "samples": cfg.samples, "eval_seed": 20_011, "sigmas": list(cfg.sigmas)}
    with ray_session():
        results = tune.Tuner(tune.with_resources(ablation_trial, {"cpu": 1}), param_space=space,
                             tune_config=tune.TuneConfig(reuse_actors=True),
                             run_config=tune.RunConfig(name="grid", storage_path=out, verbose=0)).fit()
    errors = [str(r.error).splitlines()[-1] for r in results if r.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} ablation trial(s) failed, e.g. {errors[0]}")
    rows = pd.concat([pd.read_json(io.StringIO(r.metrics["rows_json"])) for r in results], ignore_index=True)
    return rows, out


def format_tests(rows: pd.DataFrame, tests: pd.DataFrame) -> str:
    """Markdown table: per variant, AUC and accuracy at σ = 0.9 (mean ± sd, %), vs reference, (*)."""
    lines = ["| factor | variant | metric | mean ± sd | vs reference | p (Welch) |", "|---|---|---|---|---|---|"]
    for metric in dict.fromkeys(tests.metric):
        vals = _metric_values(rows, metric).groupby("variant").value
        ref = vals.get_group("reference")
        lines.append(f"| reference | reference | {metric} | {100 * ref.mean():.1f} ± {100 * ref.std(ddof=1):.1f}"
                     " | | |")
        for _, t in tests[tests.metric == metric].iterrows():
            g = vals.get_group(t.variant)
            star = " (*)" if t.significant is True else ""
            lines.append(f"| {t.factor} | {t.variant} | {metric} | {100 * g.mean():.1f} ± "
                         f"{100 * g.std(ddof=1):.1f} | {100 * t['diff']:+.1f}{star} | {t.p_value:.3g} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bayesft-tune ablation``; returns the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        cfg = _config(args)
        rows, out = run_ablation(cfg)
        tests = significance(rows, alpha=cfg.alpha)
    except UserInputError as err:
        print(f"bayesft-tune ablation: error: {err}", file=sys.stderr)
        return 2
    write_file(rows, os.path.join(out, "ablation.parquet"), "ablation")
    write_file(tests, os.path.join(out, "ablation_tests.parquet"), "ablation_tests")
    text = (f"ablation: MNIST MLP (embedded 5,000 digits), {cfg.seeds} seeds, {cfg.epochs} epochs, "
            f"T={cfg.samples}, test split; AUC = mean accuracy over σ in [{cfg.sigmas[0]:g}, "
            f"{cfg.sigmas[-1]:g}]; (*) Welch p < {cfg.alpha}\n\n" + format_tests(rows, tests))
    print(text)
    with open(os.path.join(out, "ablation.md"), "w") as f:
        f.write(text + "\n")
    print(f"\nwritten: {out}/ablation.parquet, ablation_tests.parquet, ablation.md")
    return 0
