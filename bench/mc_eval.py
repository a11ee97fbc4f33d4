"""Benchmark: Monte Carlo drift evaluation vs a naive loop vs the clean-forward floor.

For the MLP 784-256-256-10 and LeNet5, one batch of 1,000 MNIST-shaped inputs,
T = 32 samples, σ grids of 1..6 points (σ = 1.0 first), times

  (a) ``evaluate_under_drift`` (auto path),
  (b) a naive loop: per (σ, sample) deepcopy the model and multiply every
      parameter by ``exp(σ·randn)``, then forward,
  (c) the floor: T x |grid| clean forward passes of the same batch,

and prints medians over ``--repeats`` runs and the ratios a/c and b/a. ``--vmap-chunks``
times (a) once per chunk size of the vmap path (CUDA's auto path; ``default`` is the library's).

    python bench/mc_eval.py [--threads 1] [--repeats 5] [--device cpu] [--vmap-chunks default,8,32]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch.utils.data import TensorDataset

from bayesft_tune import build_model, evaluate_under_drift

GRID = [1.0, 0.3, 0.6, 0.9, 1.2, 1.5]


def naive(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, sigmas: list[float],
          samples: int, seed: int) -> None:
    gen = torch.Generator(device=x.device).manual_seed(seed)
    for s in sigmas:
        for _ in range(samples):
            m = copy.deepcopy(model)
            with torch.no_grad():
                for p in m.parameters():
                    p.mul_(torch.exp(s * torch.randn(p.shape, generator=gen, device=p.device)))
                logits = m(x)
                torch.nn.functional.cross_entropy(logits, y)
                (logits.argmax(1) == y).float().mean()


def floor(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, passes: int) -> None:
    with torch.inference_mode():
        for _ in range(passes):
            logits = model(x)
            torch.nn.functional.cross_entropy(logits, y)
            (logits.argmax(1) == y).float().mean()


def timed(fn, repeats: int, sync) -> float:
    out = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--grids", default="1,2,3,4,5,6")
    ap.add_argument("--vmap-chunks", default="default")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 1, 28, 28, generator=g).to(dev)
    y = torch.randint(0, 10, (1000,), generator=g).to(dev)
    data = TensorDataset(x, y)
    print(f"device={dev} threads={args.threads} T={args.samples} batch=1000 repeats={args.repeats}")
    chunks = [None if c == "default" else int(c) for c in args.vmap_chunks.split(",")]
    print(f"{'model':8} {'grid':>4} {'chunk':>7} {'a_eval_s':>9} {'b_naive_s':>9} {'c_floor_s':>9} {'a/c':>6} "
          f"{'b/a':>6}")
    models = {"mlp": build_model("mlp", hidden=(256, 256)), "lenet5": build_model("lenet5")}
    for name, model in models.items():
        model = model.to(dev).eval()
        for k in (int(v) for v in args.grids.split(",")):
            grid, t = GRID[:k], args.samples
            b = timed(lambda: naive(model, x, y, grid, t, 0), args.repeats, sync)
            c = timed(lambda: floor(model, x, y, t * k), args.repeats, sync)
            for chunk in chunks:
                a = timed(lambda: evaluate_under_drift(model, data, grid, t, batch_size=1000, vmap_chunk=chunk),
                          args.repeats, sync)
                print(f"{name:8} {k:>4} {chunk or 'default':>7} {a:9.4f} {b:9.4f} {c:9.4f} {a / c:6.3f} {b / a:6.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
