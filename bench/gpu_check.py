"""Pass/fail check on a real GPU machine: fractional-GPU trials and MC evaluation on GPU.

1. A short search (MNIST MLP, ``--trials`` trials, ``--gpus-per-trial 0.25`` so four
   trials share the GPU) on a local Ray that sees the GPU. Prints each trial's device
   (reported by the trainable), its GPU memory peak, and trials/hour.
2. ``evaluate_under_drift`` throughput on GPU vs CPU (MLP 784-256-256-10, batch 1,000,
   T = 32, σ = 1.0): the auto path (vmap on CUDA), the loop, and a naive
   deepcopy-and-multiply loop, with the ratio naive / auto.

Passes when every trial completed on ``cuda``, the GPU auto path is at least 5x faster
than the naive loop, and its rows equal the loop's (same seed) to a relative 1e-4.
Exit code 0 = pass, 1 = fail.

    python bench/gpu_check.py [--trials 8] [--gpus-per-trial 0.25]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import torch
from torch.utils.data import TensorDataset


def _search(trials: int, gpus: float) -> tuple[list[dict], float]:
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.runner import run_search

    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "0"  # per-trial result.json, read below
    out = run_search(SearchConfig(trials=trials, concurrency=max(1, int(round(1 / gpus))),
                                  gpus_per_trial=gpus, cpus_per_trial=1, epochs=5,
                                  storage_path=os.path.abspath("runs/gpu-check"),
                                  name=f"gpu-{int(time.time())}", robustness_samples=8, verbose=False))
    rows = []
    for path in glob.glob(os.path.join(out.run_dir, "*", "result.json")):
        with open(path) as f:
            last = [json.loads(line) for line in f if line.strip()][-1]
        rows.append({"trial_id": last["trial_id"], "device": last.get("device"),
                     "gpu_mem_peak_mb": last.get("gpu_mem_peak_mb"), "epochs": last.get("epoch")})
    return rows, out.wall_time_s


def _mc_throughput(device: str) -> dict[str, float]:
    sys.path.insert(0, os.path.dirname(__file__))
    from mc_eval import naive, timed

    from bayesft_tune import build_model, evaluate_under_drift

    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(1000, 1, 28, 28, generator=g).to(dev), torch.randint(0, 10, (1000,), generator=g).to(dev)
    model = build_model("mlp", hidden=(256, 256)).to(dev).eval()
    data = TensorDataset(x, y)
    res = {m: timed(lambda: evaluate_under_drift(model, data, [1.0], 32, method=m, batch_size=1000), 5, sync)
           for m in ("auto", "loop")}
    res["naive"] = timed(lambda: naive(model, x, y, [1.0], 32, 0), 5, sync)
    auto, loop = (evaluate_under_drift(model, data, [1.0], 32, method=m, batch_size=1000) for m in ("auto", "loop"))
    res["rel_diff"] = float(((auto.loss - loop.loss).abs() / loop.loss.abs()).max())
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--gpus-per-trial", type=float, default=0.25)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("FAIL: no CUDA device visible to torch")
        return 1
    print(f"GPU: {torch.cuda.get_device_name(0)}")
    rows, wall = _search(args.trials, args.gpus_per_trial)
    for r in sorted(rows, key=lambda r: r["trial_id"]):
        print(f"trial {r['trial_id']}: device={r['device']} gpu_mem_peak={r['gpu_mem_peak_mb']:.1f} MiB "
              f"epochs={r['epochs']}")
    print(f"search: {len(rows)} trials in {wall:.0f} s = {3600 * len(rows) / wall:.0f} trials/hour")
    gpu, cpu = _mc_throughput("cuda"), _mc_throughput("cpu")
    for name, res in (("cuda", gpu), ("cpu", cpu)):
        print(f"MC eval {name}: auto {res['auto']:.4f} s, loop {res['loop']:.4f} s, naive {res['naive']:.4f} s, "
              f"naive/auto {res['naive'] / res['auto']:.1f}x, auto vs loop rel. diff {res['rel_diff']:.1e}")
    ok = len(rows) == args.trials and all(str(r["device"]).startswith("cuda") for r in rows) \
        and gpu["naive"] / gpu["auto"] >= 5 and gpu["rel_diff"] <= 1e-4
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
