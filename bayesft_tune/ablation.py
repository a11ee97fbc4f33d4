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
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from torch import Tensor, nn

from bayesft_tune.errors import UserInputError

__all__ = ["AblationVariant", "build_ablation_mlp", "default_variants", "main", "significance", "variant_rows"]

from bayesft_tune.models import ACTIVATIONS  # noqa: E402  (one table of activations)
NORMS = ("none", "batch", "layer", "instance", "group")


@dataclass(frozen=True)
class AblationVariant:
    """One MLP configuration of the ablation.

    Attributes:
        factor: the factor varied ("reference", "dropout", "normalization", "depth", "activation").
        variant: short label, e.g. ``"alpha_dropout_0.3"``.
        dropout: "none", "dropout" or "alpha" (alpha dropout, Klambauer et al.).
        rate: dropout rate after every hidden activation.
        norm: one of :data:`NORMS`, after every hidden Linear (before the activation).
        depth: Linear layers (2-6); hidden widths ``192 x (depth - 2)`` then 32.
        activation: key of :data:`ACTIVATIONS`.
    """

    factor: str = "reference"
    variant: str = "reference"
    dropout: str = "none"
    rate: float = 0.0
    norm: str = "none"
    depth: int = 3
    activation: str = "relu"

    def __post_init__(self) -> None:
        ok = (self.dropout in ("none", "dropout", "alpha") and 0 <= self.rate < 1 and self.norm in NORMS
              and 2 <= int(self.depth) <= 8 and self.activation in ACTIVATIONS)
        if not ok:
            raise UserInputError(f"invalid ablation variant {self!r}: dropout in none/dropout/alpha, "
                                 f"0 <= rate < 1, norm in {NORMS}, 2 <= depth <= 8, activation in "
                                 f"{sorted(ACTIVATIONS)}. Fix the variant.")


class _InstanceNorm(nn.Module):
    """Instance norm of an MLP feature vector: the ``F`` features of one example are one
    channel of length ``F`` (normalised per example, one scalar γ, β per layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm1d(1, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.unsqueeze(1)).squeeze(1)


def _norm(kind: str, width: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(width), "layer": lambda: nn.LayerNorm(width),
            "instance": _InstanceNorm, "group": lambda: nn.GroupNorm(4, width)}[kind]()


def build_ablation_mlp(v: AblationVariant, in_features: int = 784, num_classes: int = 10) -> nn.Sequential:
    """The variant's MLP; input ``N x 1 x 28 x 28`` or ``N x 784``, output ``N x 10`` logits."""
    hidden = [192] * (int(v.depth) - 2) + [32]
    widths = [in_features, *hidden, num_classes]
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        layers.append((f"fc{i}", nn.Linear(a, b)))
        if i == len(widths) - 1:
            break
        if v.norm != "none":
            layers.append((f"norm{i}", _norm(v.norm, b)))
        layers.append((f"act{i}", ACTIVATIONS[v.activation]()))
        if v.dropout != "none":
            layers.append((f"drop{i}", (nn.AlphaDropout if v.dropout == "alpha" else nn.Dropout)(v.rate)))
    return nn.Sequential(OrderedDict(layers))


def default_variants(rates: Sequence[float] = (0.1, 0.3, 0.5)) -> list[AblationVariant]:
    """Reference plus every single-factor change of Fig. 2."""
    out = [AblationVariant()]
    out += [AblationVariant("dropout", f"{'alpha_' if k == 'alpha' else ''}dropout_{r}", k, float(r))
            for k in ("dropout", "alpha") for r in rates]
    out += [AblationVariant("normalization", f"{n}_norm", norm=n) for n in NORMS[1:]]
    out += [AblationVariant("depth", f"depth_{d}", depth=d) for d in (2, 4, 5, 6)]
    out += [AblationVariant("activation", a, activation=a) for a in ("leaky_relu", "elu", "gelu")]
    return out


def variant_rows(model: nn.Module, data, v: AblationVariant, seed: int, config: dict,
                 trial_id: str | None) -> pd.DataFrame:
    """Test accuracy/loss under drift at ``config["sigmas"]`` (``samples`` draws, seeded by
    ``eval_seed + seed``: all variants of a seed share the drift draws) as ``ABLATION`` rows."""
    from bayesft_tune.evaluation import evaluate_under_drift, summarize_drift

    sigmas = sorted(float(s) for s in config["sigmas"])
    frame = evaluate_under_drift(model, data, sigmas, samples=int(config["samples"]),
                                 seed=int(config["eval_seed"]) + int(seed))
    s = summarize_drift(frame)
    area = float(np.trapezoid(s.accuracy_mean, s.sigma) / (s.sigma.max() - s.sigma.min())) \
        if len(s) > 1 else float(s.accuracy_mean.iloc[0])
    return pd.DataFrame({"factor": v.factor, "variant": v.variant, "seed": int(seed), "trial_id": trial_id,
                         "sigma": s.sigma, "samples": s.samples, "accuracy_mean": s.accuracy_mean,
                         "accuracy_sem": s.accuracy_sem, "loss_mean": s.loss_mean,
                         "loss_sem": s.loss_sem, "auc": area})


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bayesft-tune ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    a("--epochs", type=int, default=5, help="training epochs per variant (default 5)")
    a("--samples", type=int, default=16, help="Monte Carlo drift samples T per σ (default 16)")
    a("--sigmas", default="0,0.3,0.6,0.9,1.2,1.5", help="σ grid (default 0,0.3,...,1.5)")
    a("--rates", default="0.1,0.3,0.5", help="dropout rates (default 0.1,0.3,0.5)")
    a("--only", help="comma-separated variant labels to run (the reference is always included)")
    a("--alpha", type=float, default=0.05, help="significance level of Welch's t-test (default 0.05)")
    a("--out", help="output directory (default runs/ablation-<timestamp>)")
    return p


def _variants(args: argparse.Namespace) -> list[AblationVariant]:
    variants = default_variants([float(r) for r in args.rates.split(",") if r.strip()])
    if args.only:
        wanted = {w.strip() for w in args.only.split(",") if w.strip()} | {"reference"}
        unknown = sorted(wanted - {v.variant for v in variants})
        if unknown:
            raise UserInputError(f"unknown ablation variants {unknown}; valid are "
                                 f"{[v.variant for v in variants]}. Fix --only.")
        variants = [v for v in variants if v.variant in wanted]
    return variants


def run_ablation(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    """Run the grid (variants x seeds) on Ray Tune; returns the rows and the output directory."""
    import io

    from ray import tune

    from bayesft_tune.search.session import ray_session
    from trainables.ablation import ablation_trial

    if args.seeds < 1 or args.epochs < 1 or args.samples < 2:
        raise UserInputError(f"ablation needs --seeds >= 1, --epochs >= 1, --samples >= 2; got "
                             f"{args.seeds}, {args.epochs}, {args.samples}.")
    out = os.path.abspath(args.out or os.path.join("runs", time.strftime("ablation-%Y%m%d-%H%M%S")))
    space = {"variant": tune.grid_search([asdict(v) for v in _variants(args)]),
             "seed": tune.grid_search(list(range(args.seeds))), "epochs": args.epochs, "batch_size": 64,
             "lr": 1e-3, "samples": args.samples, "eval_seed": 20_011,
             "sigmas": [float(s) for s in args.sigmas.split(",") if s.strip()]}
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
    import sys

    from bayesft_tune.storage import write_file

    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        rows, out = run_ablation(args)
        tests = significance(rows, alpha=args.alpha)
    except UserInputError as err:
        print(f"bayesft-tune ablation: error: {err}", file=sys.stderr)
        return 2
    write_file(rows, os.path.join(out, "ablation.parquet"), "ablation")
    write_file(tests, os.path.join(out, "ablation_tests.parquet"), "ablation_tests")
    text = (f"ablation: MNIST MLP (embedded 5,000 digits), {args.seeds} seeds, {args.epochs} epochs, "
            f"T={args.samples}, test split; AUC = mean accuracy over σ in [{args.sigmas.split(',')[0]}, "
            f"{args.sigmas.split(',')[-1]}]; (*) Welch p < {args.alpha}\n\n" + format_tests(rows, tests))
    print(text)
    with open(os.path.join(out, "ablation.md"), "w") as f:
        f.write(text + "\n")
    print(f"\nwritten: {out}/ablation.parquet, ablation_tests.parquet, ablation.md")
    return 0
