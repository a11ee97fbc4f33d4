"""Pool the paired wall ratios (service / plain loop) of several ``bench/vs_plain_loop.py`` result files.

    python bench/pooled_ratios.py bench/results/vs_plain_loop_r8_mlp_quiet.json bench/results/vs_plain_loop_r9_mlp_seed0.json

One pair is one alternating (a) service, (b) plain loop run at one seed; its ratio is a/b. Per task this
prints the pairs, their median, the geometric mean with a 95 % t-interval (computed on log a/b, so a
pair at 0.5 and one at 2.0 cancel), the one-sided t-test of "the ratio is below the target" and how many
pairs are above the target. Pool only files measured with the same library code: files written since
round 11 record their commit (``code``), and the lines under the table list each file's.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats


def ratios(files: list[str]) -> dict[str, list[tuple[int, float]]]:
    """``task -> [(seed, a/b), ...]`` over every run of every file, in file order."""
    out: dict[str, list[tuple[int, float]]] = {}
    for name in files:
        runs = json.loads(Path(name).read_text())["runs"]
        for task, pairs in runs.items():
            out.setdefault(task, []).extend((int(p["seed"]), p["a"]["wall_s"] / p["b"]["wall_s"]) for p in pairs)
    return out


def summary(pairs: list[tuple[int, float]], target: float) -> dict:
    """Median, geometric mean and its 95 % t-interval, one-sided p of ratio < target, pairs above it."""
    r = np.array([x for _, x in pairs])
    logs = np.log(r)
    n = len(r)
    mean = float(logs.mean())
    half = float(stats.t.ppf(0.975, n - 1) * logs.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    p = float(stats.ttest_1samp(logs, math.log(target), alternative="less").pvalue) if n > 1 else math.nan
    return {"pairs": n, "median": float(np.median(r)), "geo_mean": math.exp(mean), "ci_low": math.exp(mean - half),
            "ci_high": math.exp(mean + half), "p_below_target": p, "above_target": int((r > target).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="vs_plain_loop.py --out files to pool")
    parser.add_argument("--target", type=float, default=0.7, help="the ratio target (default 0.7)")
    args = parser.parse_args()
    print(f"| task | pairs | a/b per pair (seed) | median | geometric mean [95 % CI] | p (ratio < {args.target:g}) "
          f"| pairs above {args.target:g} |")
    print("|---|---|---|---|---|---|---|")
    for task, pairs in ratios(args.files).items():
        s = summary(pairs, args.target)
        listed = ", ".join(f"{x:.2f} ({seed})" for seed, x in pairs)
        print(f"| {task} | {s['pairs']} | {listed} | {s['median']:.3f} | {s['geo_mean']:.3f} "
              f"[{s['ci_low']:.3f}, {s['ci_high']:.3f}] | {s['p_below_target']:.3f} | {s['above_target']} |")
    print()
    for name in args.files:
        print(f"{name}: code {json.loads(Path(name).read_text()).get('code', 'not recorded')}")


if __name__ == "__main__":
    main()
