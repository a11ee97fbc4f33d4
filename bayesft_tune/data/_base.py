"""Dataset registry and split helpers shared by every loader.

Every classification loader returns :class:`Splits` of in-memory ``TensorDataset`` s
with images ``N x C x H x W`` (float32, standardised) and labels ``N`` (int64); the
detection loader returns datasets of ``(image, target)`` pairs (see ``pennfudan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils.data import TensorDataset

from bayesft_tune.registry import Registry

__all__ = ["DATASETS", "Loader", "Splits", "dataset_names", "load_data", "make_set", "splits_from_arrays",
           "standardise", "stratified_split", "val_size_for"]


@dataclass(frozen=True)
class Splits:
    """Train / validation / test sets of one dataset."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]


Loader = Callable[[str | None, bool, int], Splits]
"""``loader(root, download, seed) -> Splits``."""

DATASETS: Registry[Loader] = Registry("dataset", "Pass one of these names.")
"""Dataset name -> loader; filled by :mod:`bayesft_tune.data`'s ``__init__``."""


def dataset_names() -> list[str]:
    """Registered dataset names, in registration order."""
    return DATASETS.names()


def load_data(name: str = "mnist_embedded", root: str | None = None, download: bool = False,
              seed: int = 0) -> Splits:
    """Load a registered dataset with a seeded, stratified validation split.

    Args:
        name: dataset name (see :func:`dataset_names`).
        root: directory holding (or receiving) the files, for torchvision datasets.
        download: let torchvision download missing files.
        seed: seeds the split.

    Raises:
        UserInputError: unknown name, or files missing and not downloadable.
    """
    return DATASETS.get(name)(root, download, seed)


def standardise(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """``N x C x H x W`` uint8-range images -> standardised float32 tensor."""
    x = torch.as_tensor(images, dtype=torch.float32) / 255.0
    return (x - torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)) / \
        torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1)


def stratified_split(labels: np.ndarray, sizes: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Split indices into parts of the given sizes (last part takes the rest), stratified."""
    from sklearn.model_selection import train_test_split  # lazy: scikit-learn (~1.5 s), `import bayesft_tune` light

    rest, parts = np.arange(len(labels)), []
    for size in sizes:
        rest, part = train_test_split(rest, test_size=size, stratify=labels[rest], random_state=seed)
        parts.append(np.sort(part))
    return [np.sort(rest), *parts]


def make_set(x: torch.Tensor, y: np.ndarray, idx: np.ndarray) -> TensorDataset:
    """The rows ``idx`` of images ``x`` and labels ``y`` as a ``TensorDataset`` (labels int64)."""
    return TensorDataset(x[idx], torch.as_tensor(y[idx], dtype=torch.int64))


def val_size_for(n_train: int, num_classes: int, full: int = 5000) -> int:
    """Validation size: ``full`` for the real datasets, 10 % (>= one per class) for small subsets."""
    return min(full, max(num_classes, n_train // 10))


def splits_from_arrays(train_nchw: tuple[np.ndarray, np.ndarray], test_nchw: tuple[np.ndarray, np.ndarray],
                       seed: int, mean: np.ndarray, std: np.ndarray, num_classes: int,
                       val_size: int = 5000) -> Splits:
    """Standardised :class:`Splits` from ``(images N x C x H x W uint8, labels N)`` train/test arrays."""
    (x_tr, y_tr), (x_te, y_te) = train_nchw, test_nchw
    x_tr, x_te = standardise(x_tr, mean, std), standardise(x_te, mean, std)
    y_tr, y_te = np.asarray(y_tr, dtype=np.int64), np.asarray(y_te, dtype=np.int64)
    train, val = stratified_split(y_tr, (val_size_for(len(y_tr), num_classes, val_size),), seed)
    return Splits(make_set(x_tr, y_tr, train), make_set(x_tr, y_tr, val),
                  make_set(x_te, y_te, np.arange(len(y_te))), num_classes, tuple(x_tr.shape[1:]))
