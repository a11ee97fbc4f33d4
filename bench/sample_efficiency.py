"""Benchmark: best objective vs number of trials, Ax BO vs random search, on the MNIST MLP task.

Runs ``--seeds`` pairs of real searches (same task, budget, concurrency and seed;
``--method bo`` vs ``--method random``) on a local Ray, then prints the best-so-far
objective of the default search (mean drifted validation accuracy over σ, T = 16) after 5, 10, 15, ... trials in
Ax trial order, per method: mean over seeds and each seed.

    python bench/sample_efficiency.py [--seeds 3] [--trials 20] [--epochs 10] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import pandas as pd

from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.runner import run_search


def best_so_far(trials: pd.DataFrame) -> pd.Series:
    """Best objective after each completed trial, in trial order, in the objective's direction."""
    done = trials[trials.status == "completed"].sort_values("trial_index")
    best = done.objective_mean.cummin() if done.objective_direction.iloc[0] == "min" else done.objective_mean.cummax()
    return best.reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--out", default=os.path.join("runs", "bench-sample-efficiency"))
    args = ap.parse_args()
    curves = {}
    for seed in range(args.seeds):
        for method in ("bo", "random"):
            cfg = SearchConfig(trials=args.trials, concurrency=2, epochs=args.epochs, seed=seed,
                               method=method, storage_path=args.out, name=f"{method}-seed{seed}",
                               erm_baseline=False, robustness_samples=2, verbose=False)
            curves[(method, seed)] = best_so_far(run_search(cfg).trials)
    table = pd.DataFrame(curves)
    marks = [n for n in range(5, args.trials + 1, 5)]
    rows = table.iloc[[m - 1 for m in marks]].set_axis(marks)
    print(f"best-so-far objective (default search: mean drifted accuracy over σ, higher is better) after n trials; seeds 0..{args.seeds - 1}; "
          f"{args.trials} trials, 2 concurrent, {args.epochs} epochs")
    for method in ("bo", "random"):
        per_seed = rows[method]
        print(f"\n{method}: mean over seeds, then each seed")
        print(pd.concat([per_seed.mean(axis=1).rename("mean"), per_seed], axis=1).round(4).to_string())
    final = table.iloc[-1]
    print(f"\nfinal best, BO wins on {int((final['bo'] > final['random']).sum())}/{args.seeds} seeds; "
          f"mean BO {final['bo'].mean():.4f} vs random {final['random'].mean():.4f}")


if __name__ == "__main__":
    main()
