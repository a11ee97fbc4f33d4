"""Benchmark: seconds per AxSearcher suggestion as completed trials accumulate.

8 dropout slots in [0, 0.8], a noisy synthetic objective (no training), one
suggestion at a time (``max_concurrent=1``): times every ``suggest`` call and
prints the median and p95 over the calls made with 10-14, 30-34 and 50-54
completed trials. Ax settings are the searcher's defaults (Ax "fast": Sobol
initialisation of 5, then a GP with log-EI).

    python bench/searcher_overhead.py [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bayesft_tune.search.searcher import AxSearcher

NAMES = [f"dropout_s{i}" for i in range(8)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trials", type=int, default=55)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    optimum = rng.uniform(0.1, 0.7, len(NAMES))
    s = AxSearcher({n: (0.0, 0.8) for n in NAMES}, max_concurrent=1, seed=args.seed)
    s.set_search_properties("drifted_loss", "min", {}, num_samples=args.trials)
    seconds = []
    for i in range(args.trials):
        t0 = time.perf_counter()
        cfg = s.suggest(f"t{i}")
        seconds.append(time.perf_counter() - t0)
        x = np.array([cfg[n] for n in NAMES])
        loss = 0.2 + float(np.sum((x - optimum) ** 2)) + rng.normal(0, 0.02)
        s.on_trial_complete(f"t{i}", {"drifted_loss": loss, "drifted_loss_sem": 0.02})
    print(f"threads={args.threads} seed={args.seed} slots={len(NAMES)}")
    print(f"{'completed':>10} {'median_s':>9} {'p95_s':>7} {'calls':>5}")
    for lo in (10, 30, 50):
        window = np.array(seconds[lo:lo + 5])
        print(f"{f'{lo}-{lo + 4}':>10} {np.median(window):9.3f} {np.percentile(window, 95):7.3f} {len(window):5}")
    print(f"total suggestion time for {args.trials} trials: {sum(seconds):.1f} s")


if __name__ == "__main__":
    main()
