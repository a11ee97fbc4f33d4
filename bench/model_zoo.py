"""Benchmark: the model zoo on CPU - parameters, dropout slots, training-step time and
Monte Carlo drift-evaluation time (T = 32 samples at σ = 0.9).

Classifiers: one batch of 8 random 3 x 32 x 32 images (Adam step, dropout 0.1 in every
slot, active). Mask R-CNN: 2 random 3 x 128 x 128 images with one box/mask each
(``min_size=max_size=128``; SGD step), scored by box mAP per drift sample
(``evaluate_detection_under_drift``). Medians over ``--repeats`` runs (Mask R-CNN
ResNet-50-FPN: ``--detection-repeats``).

    OMP_NUM_THREADS=1 python bench/model_zoo.py [--threads 1] [--repeats 3] [--samples 32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from bayesft_tune import add_dropout, build_model, dropout_slots, evaluate_under_drift
from bayesft_tune.detection import evaluate_detection_under_drift

CLASSIFIERS = [("alexnet", {}, 10), ("vgg11", {}, 10), ("vgg16", {}, 10), ("resnet18", {}, 10),
               ("preact_resnet18", {}, 10), ("stn", {}, 43)]
DETECTORS = [("maskrcnn (tiny)", {"backbone": "tiny"}), ("maskrcnn (resnet50_fpn)", {})]


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _classifier(name: str, kwargs: dict, classes: int, repeats: int, samples: int) -> tuple:
    torch.manual_seed(0)
    net = build_model(name, **kwargs)
    n_slots = len(dropout_slots(net))
    net = add_dropout(net, [0.1] * n_slots)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, classes, (8,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step() -> None:
        net.train()
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    step()  # warm-up
    evaluate = lambda: evaluate_under_drift(net, TensorDataset(x, y), [0.9], samples=samples, method="loop")
    return net, n_slots, _median(step, repeats), _median(evaluate, repeats)


def _detector(kwargs: dict, repeats: int, samples: int) -> tuple:
    torch.manual_seed(0)
    net = build_model("maskrcnn", min_size=128, max_size=128, **kwargs)
    n_slots = len(dropout_slots(net))
    net = add_dropout(net, [0.1] * n_slots)
    masks = torch.zeros(1, 128, 128, dtype=torch.uint8)
    masks[0, 30:90, 40:70] = 1
    target = {"boxes": torch.tensor([[40.0, 30.0, 70.0, 90.0]]), "labels": torch.tensor([1]), "masks": masks}
    data = [(torch.rand(3, 128, 128), dict(target)) for _ in range(2)]
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.005, momentum=0.9)

    def step() -> None:
        net.train()
        opt.zero_grad()
        sum(net([d[0] for d in data], [d[1] for d in data]).values()).backward()
        opt.step()

    step()
    evaluate = lambda: evaluate_detection_under_drift(net, data, [0.9], samples=samples, batch_size=2)
    return net, n_slots, _median(step, repeats), _median(evaluate, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detection-repeats", type=int, default=1)
    parser.add_argument("--samples", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), T = {args.samples}, "
          f"medians of {args.repeats} (Mask R-CNN ResNet-50-FPN: {args.detection_repeats})")
    print(f"| model | params | slots | batch | train step (s) | MC eval T={args.samples} (s) |")
    print("|---|---:|---:|---|---:|---:|")
    rows = [(n, "8 x 3 x 32 x 32", _classifier(n, k, c, args.repeats, args.samples)) for n, k, c in CLASSIFIERS]
    for name, kwargs in DETECTORS:
        reps = args.repeats if kwargs.get("backbone") == "tiny" else args.detection_repeats
        rows.append((name, "2 x 3 x 128 x 128", _detector(kwargs, reps, args.samples)))
    for name, batch, (net, n_slots, step, evaluate) in rows:
        params = sum(p.numel() for p in net.parameters())
        print(f"| {name} | {params:,} | {n_slots} | {batch} | {step:.3f} | {evaluate:.2f} |")


if __name__ == "__main__":
    main()
