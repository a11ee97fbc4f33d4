"""The real ``AxSearcher`` feeding K slots in virtual time (the anchor: Syne Tune's simulator back-end).

    python bench/simulated_cluster.py --slots 16 --trials 120 --median 60 --seeds 0,1 --out bench/results/sim.json

Trials do not run: each lasts a lognormal duration around ``--median`` virtual seconds
(σ_log ``--spread``) and returns a noisy Hartmann-6 value (8-D: two inert dimensions; noise
sd 0.05, reported as its SEM). Time is virtual except the searcher's: every ``suggest`` and
``on_trial_complete`` call advances the clock by its real wall time (Tune's loop is one
thread), a slot refused a candidate ("not ready": a GP step in flight) waits in real time,
and a GP step running ahead in the searcher's thread may use, in real time, at most the
virtual time until the next completion. Random search proposes at zero latency: the
ceiling for utilisation. Reports slot utilisation, the latency from a slot freeing to its
next trial (p50/p95), abandoned candidates, the GP's wall and best-so-far over virtual time.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import statistics
import time

import numpy as np

from bayesft_tune.search.searcher import _pregen
from bayesft_tune.search.searcher import AxSearcher

ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
              [17, 8, 0.05, 10, 0.1, 14]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
DIMS = [f"x{i}" for i in range(8)]
NOISE = 0.05


def hartmann6(x: np.ndarray) -> float:
    """The Hartmann-6 function on [0, 1]^6 (minimum -3.32237)."""
    return float(-(ALPHA * np.exp(-(A * (x[:6] - P) ** 2).sum(1))).sum())


class RandomProposer:
    """Uniform proposals at zero latency (the utilisation ceiling)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def suggest(self, trial_id: str) -> dict:
        return dict(zip(DIMS, self.rng.uniform(size=8)))

    def on_trial_complete(self, trial_id: str, result: dict) -> None:
        pass


def _timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def simulate(searcher, slots: int, trials: int, median: float, spread: float, seed: int) -> dict:
    """Run ``trials`` trials on ``slots`` slots; returns the measurements (virtual seconds)."""
    rng = np.random.default_rng(seed + 1000)
    now, running, started, done = 0.0, [], 0, 0
    free_since = [0.0] * slots
    busy, latencies, best, curve = 0.0, [], math.inf, []
    while done < trials:
        while len(running) < slots and started < trials:
            config, spent = _timed(searcher.suggest, f"t{started}")
            now += spent
            if config is None:
                break
            slot_free = free_since.pop(0)
            latencies.append(now - slot_free)
            duration = float(median * np.exp(spread * rng.standard_normal()))
            busy += duration
            heapq.heappush(running, (now + duration, started, config))
            started += 1
        if len(running) < slots and started < trials and (not running or running[0][0] > now):
            step = min(0.02, running[0][0] - now) if running else 0.02
            time.sleep(max(step, 0.0))  # a slot waits, in real time, for the GP step in flight
            now += max(step, 0.0)
            continue
        end, index, config = heapq.heappop(running)
        if end > now and hasattr(searcher, "wait"):
            waited, _ = _timed(searcher.wait, end - now)  # a GP step ahead uses the time until then
            now = max(now, min(end, now + waited))
        now = max(now, end)
        x = np.array([config[d] for d in DIMS])
        value = hartmann6(x) + NOISE * rng.standard_normal()
        _, spent = _timed(searcher.on_trial_complete, f"t{index}", {"y": value, "y_sem": NOISE})
        now += spent
        free_since.append(now)
        done += 1
        best = min(best, hartmann6(x))
        curve.append((now, best))
    return {"makespan": now, "utilisation": busy / (slots * now), "latency_p50": statistics.median(latencies),
            "latency_p95": float(np.percentile(latencies, 95)), "best": best, "curve": curve[:: max(1, trials // 50)],
            "abandoned": sum(v == "ABANDONED" for v in getattr(getattr(searcher, "ledger", None), "status", {}).values()),
            "gp_seconds": sum(getattr(searcher, "generation_seconds", []))}


def make(kind: str, slots: int, trials: int, seed: int):
    if kind == "random":
        return RandomProposer(seed)
    searcher = AxSearcher({d: (0.0, 1.0) for d in DIMS}, metric="y", mode="min", max_concurrent=slots, seed=seed)
    searcher.set_search_properties("y", "min", {}, num_samples=trials)
    return searcher


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slots", type=int, default=16)
    p.add_argument("--trials", type=int, default=120)
    p.add_argument("--median", type=float, default=60.0)
    p.add_argument("--spread", type=float, default=0.5)
    p.add_argument("--seeds", default="0")
    p.add_argument("--policy", choices=["current", "one-ahead"], default="current",
                   help="one-ahead: the policy before many-slot queues (one candidate ahead, discarded after one "
                        "extra completion), for comparison")
    p.add_argument("--out")
    args = p.parse_args()
    if args.policy == "one-ahead":
        _pregen.SLOTS_PER_EXTRA = 10**9
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for kind in ("random", "bo"):
            r = simulate(make(kind, args.slots, args.trials, seed), args.slots, args.trials, args.median,
                         args.spread, seed)
            rows.append({"seed": seed, "searcher": kind, **r})
            print(f"seed {seed} {kind:6s}: utilisation {r['utilisation']:.3f}, latency p50 {r['latency_p50']:.2f} s "
                  f"p95 {r['latency_p95']:.2f} s, abandoned {r['abandoned']}, GP {r['gp_seconds']:.1f} s, best "
                  f"{r['best']:.3f}, makespan {r['makespan']:.0f} s", flush=True)
    for seed in sorted({r["seed"] for r in rows}):
        rand, bo = (next(r for r in rows if r["seed"] == seed and r["searcher"] == k) for k in ("random", "bo"))
        print(f"seed {seed}: BO utilisation / random's = {bo['utilisation'] / rand['utilisation']:.3f}; "
              f"best {bo['best']:.3f} vs {rand['best']:.3f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
