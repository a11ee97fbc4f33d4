"""Fabricated datasets in the real on-disk formats (MNIST IDX files, CIFAR-10 pickles, GTSRB
ppm + CSV, PennFudanPed PNG + instance masks), small enough for CPU tests.

:data:`FABRICATORS` maps every registered dataset name to the function writing its files
(None: the dataset ships with a package); the contract suite fails on a dataset missing here."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image


def mnist(root: Path, train: int = 40, test: int = 10, seed: int = 0) -> Path:
    """torchvision's MNIST layout: ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
    (big-endian IDX files); digit ``d`` images are filled with grey level ``20 * d`` (+ noise)."""
    rng, folder = np.random.default_rng(seed), root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)

    def idx(path: Path, array: np.ndarray) -> None:
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        path.write_bytes(header + array.astype(np.uint8).tobytes())

    for prefix, n in (("train", train), ("t10k", test)):
        labels = np.arange(n) % 10
        images = np.clip(20 * labels[:, None, None] + rng.integers(0, 10, (n, 28, 28)), 0, 255)
        idx(folder / f"{prefix}-images-idx3-ubyte", images)
        idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def cifar10(root: Path, per_batch: int = 10, test: int = 10, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py`` with 5 training batches of ``per_batch`` images and a test batch.

    Class ``c`` images are filled with grey level ``20 * c`` (+ noise), so labels are recoverable.
    """
    rng, folder = np.random.default_rng(seed), root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def batch(n: int, name: str) -> None:
        labels = [i % 10 for i in range(n)]
        data = np.stack([np.clip(20 * c + rng.integers(0, 10, 3072), 0, 255) for c in labels])
        entry = {"batch_label": name, "labels": labels, "data": data.astype(np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)

    for i in range(1, 6):
        batch(per_batch, f"data_batch_{i}")
    batch(test, "test_batch")
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{c}" for c in range(10)], "num_vis": 3072}, f)
    return root


def gtsrb(root: Path, per_class: int = 3, test: int = 12, seed: int = 0) -> Path:
    """torchvision's GTSRB layout: ``gtsrb/GTSRB/Training/<class:05d>/*.ppm`` (43 classes),
    ``gtsrb/GTSRB/Final_Test/Images/*.ppm`` and ``gtsrb/GT-final_test.csv``; odd image sizes."""
    rng, base = np.random.default_rng(seed), root / "gtsrb"

    def image(path: Path, c: int) -> None:
        h, w = rng.integers(30, 50, 2)
        pixels = np.full((h, w, 3), 5 * c, dtype=np.uint8) + rng.integers(0, 5, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)

    for c in range(43):
        folder = base / "GTSRB" / "Training" / f"{c:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image(folder / f"00000_{i:05d}.ppm", c)
    images = base / "GTSRB" / "Final_Test" / "Images"
    images.mkdir(parents=True, exist_ok=True)
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i in range(test):
        image(images / f"{i:05d}.ppm", (7 * i) % 43)
        rows.append(f"{i:05d}.ppm;40;40;5;5;35;35;{(7 * i) % 43}")
    (base / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    return root


PedBoxes = list[list[tuple[int, int, int, int]]]


def pennfudan(root: Path, n: int = 6, size: tuple[int, int] = (64, 80), seed: int = 0) -> PedBoxes:
    """``root/PennFudanPed/{PNGImages,PedMasks}`` with 1-2 bright rectangular "pedestrians"
    per image (mask value k = k-th instance). Returns each image's boxes ``(x1, y1, x2, y2)``."""
    rng, base = np.random.default_rng(seed), root / "PennFudanPed"
    (base / "PNGImages").mkdir(parents=True, exist_ok=True)
    (base / "PedMasks").mkdir(parents=True, exist_ok=True)
    h, w = size
    boxes: PedBoxes = []
    for i in range(1, n + 1):
        pixels = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), dtype=np.uint8)
        mine = []
        for k in range(1, 1 + 1 + i % 2):
            x1, y1 = int(rng.integers(2, w // 2)) + (k - 1) * (w // 3), int(rng.integers(2, h // 3))
            x2, y2 = min(w - 1, x1 + int(rng.integers(8, 16))), min(h - 1, y1 + int(rng.integers(20, 30)))
            pixels[y1:y2, x1:x2] = 220
            mask[y1:y2, x1:x2] = k
            mine.append((x1, y1, x2, y2))
        Image.fromarray(pixels).save(base / "PNGImages" / f"FudanPed{i:05d}.png")
        Image.fromarray(mask, mode="L").save(base / "PedMasks" / f"FudanPed{i:05d}_mask.png")
        boxes.append(mine)
    return boxes


FABRICATORS: dict[str, Callable[[Path], Any] | None] = {
    "mnist_embedded": None,
    "mnist": mnist,
    "cifar10": cifar10,
    "gtsrb": gtsrb,
    "pennfudan": lambda root: pennfudan(root, n=5),
}
"""Registered dataset name -> the function writing small files of it under a root (None: none needed)."""
