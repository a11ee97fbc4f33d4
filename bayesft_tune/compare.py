"""``bayesft-tune compare``: every training method on one task, several seeds, one σ grid.

    bayesft-tune compare --task mnist_mlp --methods erm,noise_injection,awp,ftna,reram_v,bayesft --seeds 3

All methods but ``bayesft`` run as a Ray Tune grid (methods x seeds, in parallel);
``bayesft`` runs one search per seed (``trials`` trials of ``epochs`` epochs each) and
its best trial is scored like the others. Every model is scored on the test split
with the same Monte Carlo draws per seed. Output ``<out>/robustness.parquet`` (schema
``ROBUSTNESS``, one row per (method, seed, σ); ``trial_id`` holds the seed label
``seed<k>``) and ``<out>/compare.md`` (the printed table: mean ± 95 % CI across seeds).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bayesft_tune.errors import UserInputError

__all__ = ["compare_table", "main", "run_compare"]

TABLE_SIGMAS = (0.6, 0.9, 1.2, 1.5)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bayesft-tune compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--task", default="mnist_mlp", help="registered task (default mnist_mlp)")
    a("--methods", default="erm,noise_injection,awp,ftna,reram_v,bayesft", help="comma-separated method names")
    a("--seeds", type=int, default=3, help="seeds 0..N-1 per method (default 3)")
    a("--epochs", type=int, help="training epochs of every method and every search trial (default: task's)")
    a("--samples", type=int, default=32, help="Monte Carlo drift samples T per σ (default 32)")
    a("--sigmas", default="0,0.3,0.6,0.9,1.2,1.5", help="σ grid (default 0,0.3,...,1.5)")
    a("--trials", type=int, default=16, help="trials of each BayesFT search (default 16)")
    a("--search-samples", type=int, default=16, help="T of the search objective (default 16)")
    a("--concurrency", type=int, default=2, help="trials at once in each BayesFT search (default 2)")
    a("--noise-sigma", type=float, default=0.6, help="σ_train of noise_injection (default 0.6)")
    a("--awp-gamma", type=float, default=0.01, help="AWP relative perturbation γ (default 0.01)")
    a("--out", help="output directory (default runs/compare-<task>-<timestamp>)")
    return p


def _constants(args: argparse.Namespace, task) -> dict:
    sigmas = [float(s) for s in args.sigmas.split(",") if s.strip()]
    if args.seeds < 1 or args.samples < 2 or not sigmas or 0.0 not in sigmas:
        raise UserInputError(f"compare needs --seeds >= 1, --samples >= 2 and a σ grid containing 0; got "
                             f"seeds={args.seeds}, samples={args.samples}, sigmas={sigmas}. Fix the flags.")
    return {"task": args.task, "epochs": args.epochs or task.epochs, "batch_size": task.batch_size,
            "lr": task.lr, "sigmas": sigmas, "samples": args.samples, "drift": "lognormal",
            "eval_seed": 10_007, "data_seed": 0,
            "method_options": {"noise_sigma": args.noise_sigma, "awp_gamma": args.awp_gamma}}


def _grid(methods: list[str], seeds: list[int], constants: dict, out: str) -> pd.DataFrame:
    from ray import tune

    from trainables.compare import compare_trial

    if not methods:
        return pd.DataFrame()
    space = {**constants, "method": tune.grid_search(methods), "seed": tune.grid_search(seeds)}
    results = tune.Tuner(tune.with_resources(compare_trial, {"cpu": 1}), param_space=space,
                         tune_config=tune.TuneConfig(reuse_actors=True),
                         run_config=tune.RunConfig(name="grid", storage_path=os.path.abspath(out),
                                                   verbose=0)).fit()
    errors = [str(r.error).splitlines()[-1] for r in results if r.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} compare trial(s) failed, e.g. {errors[0]}")
    return pd.concat([pd.read_json(__import__("io").StringIO(r.metrics["robustness_json"]))
                      for r in results], ignore_index=True)


def _bayesft(seeds: list[int], constants: dict, args: argparse.Namespace, out: str) -> pd.DataFrame:
    import torch

    from bayesft_tune.methods import MethodConfig, fit_bayesft
    from trainables._common import cached_data, get_task
    from trainables.compare import robustness_rows

    task, parts = get_task(args.task), []
    splits = cached_data(task.dataset, None, False, 0)
    for seed in seeds:
        search = {"trials": args.trials, "concurrency": args.concurrency, "samples": args.search_samples,
                  "storage_path": os.path.abspath(out), "name": f"bayesft-seed{seed}"}
        cfg = MethodConfig(epochs=constants["epochs"], batch_size=constants["batch_size"], lr=constants["lr"],
                           options={"task": args.task, "search": search})
        torch.set_num_threads(1)
        model = fit_bayesft(task.build, splits.train, splits.val, cfg, seed)
        print(f"bayesft seed {seed}: best trial {model.bayesft_trial_id} ({model.bayesft_run_dir})", flush=True)
        parts.append(robustness_rows(model, splits.test, {**constants, "method": "bayesft",
                                                          "eval_seed": constants["eval_seed"] + seed},
                                     f"seed{seed}"))
    return pd.concat(parts, ignore_index=True)


def run_compare(args: argparse.Namespace) -> pd.DataFrame:
    """Train and score every method x seed; returns the robustness rows (also written)."""
    from bayesft_tune.methods import get_method
    from bayesft_tune.search.runner import connect_ray
    from bayesft_tune.storage import write_file
    from trainables import get_task

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        get_method(m)
    constants, seeds = _constants(args, get_task(args.task)), list(range(args.seeds))
    out = args.out or os.path.join("runs", time.strftime(f"compare-{args.task}-%Y%m%d-%H%M%S"))
    owns = connect_ray()
    try:
        parts = [_grid([m for m in methods if m != "bayesft"], seeds, constants, out)]
        if "bayesft" in methods:
            parts.append(_bayesft(seeds, constants, args, out))
    finally:
        if owns:
            import ray

            ray.shutdown()
    rows = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    write_file(rows, os.path.abspath(os.path.join(out, "robustness.parquet")), "robustness")
    return rows.assign(out_dir=os.path.abspath(out))


def _per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, seed label): clean accuracy, accuracy at TABLE_SIGMAS, AUC over [0, 1.5]."""
    from analysis.tables import auc

    rows = rows.assign(sigma=rows.sigma.round(9))
    wide = rows.pivot_table(index=["method", "trial_id"], columns="sigma", values="accuracy_mean")
    out = pd.DataFrame({"clean": wide[0.0]})
    for s in TABLE_SIGMAS:
        out[f"acc@{s}"] = wide[s] if s in wide.columns else np.nan
    areas = auc(rows.drop(columns=[c for c in ("out_dir",) if c in rows]).assign(run=rows.trial_id))
    out["auc[0,1.5]"] = areas.set_index(["method", "run"]).auc.rename_axis(["method", "trial_id"])
    return out.reset_index()


def _mean_ci(values: pd.Series) -> tuple[float, float]:
    v = values.dropna().to_numpy(float)
    if len(v) < 2:
        return (float(v.mean()) if len(v) else float("nan")), float("nan")
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def compare_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t-interval half-width across seeds of every column of :func:`_per_seed`.

    Returns:
        One row per method (input order), columns ``<metric>`` and ``<metric>_ci`` and ``seeds``.
    """
    per_seed = _per_seed(rows)
    metrics = [c for c in per_seed.columns if c not in ("method", "trial_id")]
    records = []
    for method in dict.fromkeys(rows.method):
        g = per_seed[per_seed.method == method]
        rec = {"method": method, "seeds": len(g)}
        for m in metrics:
            rec[m], rec[f"{m}_ci"] = _mean_ci(g[m])
        records.append(rec)
    return pd.DataFrame(records)


def format_table(table: pd.DataFrame) -> str:
    """Markdown table: accuracies in percent, mean ± 95 % CI half-width across seeds."""
    metrics = [c for c in table.columns if c not in ("method", "seeds") and not c.endswith("_ci")]
    head = "| method | seeds | " + " | ".join(metrics) + " |"
    lines = [head, "|" + "---|" * (len(metrics) + 2)]
    for _, r in table.iterrows():
        cells = [f"{100 * r[m]:.1f} ± {100 * r[m + '_ci']:.1f}" for m in metrics]
        lines.append(f"| {r.method} | {r.seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(table: pd.DataFrame) -> str:
    """The issue's goal: BayesFT's AUC beats every other method with clean accuracy >= ERM's - 0.5 points."""
    t = table.set_index("method")
    if "bayesft" not in t.index or len(t) < 2:
        return "goal not assessed (needs bayesft and at least one other method)"
    others = t.drop(index="bayesft")["auc[0,1.5]"]
    beats = bool((t.loc["bayesft", "auc[0,1.5]"] > others).all())
    clean_ok = "erm" not in t.index or t.loc["bayesft", "clean"] >= t.loc["erm", "clean"] - 0.005
    return (f"goal {'MET' if beats and clean_ok else 'NOT met'}: BayesFT AUC "
            f"{100 * t.loc['bayesft', 'auc[0,1.5]']:.1f} vs best other {100 * others.max():.1f} "
            f"({others.idxmax()}); clean accuracy "
            + (f"{100 * (t.loc['bayesft', 'clean'] - t.loc['erm', 'clean']):+.1f} points vs ERM (allowed -0.5)"
               if "erm" in t.index else "not compared (no erm)"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bayesft-tune compare``; returns the exit status."""
    import sys

    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        rows = run_compare(args)
    except UserInputError as err:
        print(f"bayesft-tune compare: error: {err}", file=sys.stderr)
        return 2
    out = rows.out_dir.iloc[0]
    text = (f"task {args.task}, seeds {args.seeds}, T={args.samples}, test split; mean ± 95% CI across seeds "
            f"(accuracy %, AUC = mean accuracy over σ in [0, 1.5])\n\n"
            + format_table(compare_table(rows.drop(columns="out_dir"))) + "\n\n"
            + verdict(compare_table(rows.drop(columns="out_dir"))))
    print(text)
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(text + "\n")
    print(f"\nwritten: {os.path.join(out, 'robustness.parquet')}, {os.path.join(out, 'compare.md')}")
    return 0
