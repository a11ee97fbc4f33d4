"""Benchmark: parallel scaling of a search on this machine, 1 vs 2 concurrent trials.

The same search (MNIST MLP, ``--trials`` trials, ``--epochs`` epochs, 1 CPU per
trial, BO) with ``--concurrency 1`` and ``--concurrency 2`` on one local Ray
instance. Prints wall time of each search (Tuner.fit to tables, ERM baseline off),
their ratio, and the share of wall time spent outside trials:
``1 - sum(trial wall times) / (wall x concurrency)`` (scheduling, Ax searcher,
actor start-up, I/O), plus the searcher's own generation time: GP total (every Ax
generation, some overlapping running trials) and GP blocking a slot (those a free slot
waited for).

    python bench/scaling.py [--trials 12] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import time

from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.runner import run_search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default=os.path.join("runs", "bench-scaling"))
    args = ap.parse_args()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    walls = {}
    print(f"{'concurrency':>11} {'wall_s':>7} {'trial_s_sum':>11} {'outside_share':>13} {'gp_total_s':>10} "
          f"{'gp_blocking_s':>13}")
    for conc in (1, 2):
        cfg = SearchConfig(trials=args.trials, concurrency=conc, epochs=args.epochs, seed=0,
                           storage_path=args.out, name=f"c{conc}-{int(time.time())}",
                           erm_baseline=False, robustness_samples=2, verbose=False)
        out = run_search(cfg)
        wall = out.wall_time_s
        busy = float(out.trials.wall_time_s.sum())
        walls[conc] = wall
        print(f"{conc:>11} {wall:7.1f} {busy:11.1f} {1 - busy / (wall * conc):13.3f} "
              f"{out.searcher_seconds:10.1f} {out.searcher_blocking_seconds:13.1f}", flush=True)
    print(f"speed-up with 2 concurrent trials: {walls[1] / walls[2]:.2f}x")
    ray.shutdown()


if __name__ == "__main__":
    main()
