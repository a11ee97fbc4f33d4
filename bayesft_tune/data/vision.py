"""CIFAR-10 and GTSRB loaders (images as ``N x 3 x 32 x 32`` uint8).

CIFAR-10: torchvision's ``CIFAR10`` verifies the md5 of every batch file, so only the
official release passes it. A directory in the same on-disk format whose files do
not match (a subset, a re-pickled copy, test fixtures) cannot be read by torchvision;
:func:`cifar10_arrays` then reads the pickled batches itself (the documented format:
a dict with ``data`` ``N x 3072`` uint8 and ``labels``) and warns that the files are
not the official release. GTSRB is read by torchvision's ``GTSRB`` class (no checksum
when reading) and resized to 32 x 32.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np

from bayesft_tune.data._base import Splits, splits_from_arrays
from bayesft_tune.errors import UserInputError

__all__ = ["CIFAR_MEAN", "CIFAR_STD", "GTSRB_MEAN", "GTSRB_STD", "cifar10_arrays", "gtsrb_arrays", "load_cifar10",
           "load_gtsrb", "read_cifar_batches"]

Arrays = tuple[np.ndarray, np.ndarray]
CIFAR_MEAN, CIFAR_STD = np.array([0.4914, 0.4822, 0.4465]), np.array([0.2470, 0.2435, 0.2616])
GTSRB_MEAN, GTSRB_STD = np.array([0.3403, 0.3121, 0.3214]), np.array([0.2724, 0.2608, 0.2669])


def _need_root(name: str, root: str | None) -> Path:
    if root is None:
        raise UserInputError(f"{name} needs a data directory; pass --data-dir DIR "
                             "(with --download to fetch the files into it).")
    return Path(root)


def _missing(name: str, root: Path, download: bool, err: Exception, layout: str) -> UserInputError:
    return UserInputError(
        f"could not load {name} from {root.resolve()} (download={download}): {err}. With no network, "
        f"pass --data-dir pointing at a directory that holds {layout}; with network, add --download.")


def read_cifar_batches(folder: Path, files: list[str]) -> Arrays:
    """Read CIFAR pickled batches: images ``N x 3 x 32 x 32`` uint8, labels ``N`` int64."""
    images, labels = [], []
    for name in files:
        with open(folder / name, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    return np.concatenate(images), np.asarray(labels, dtype=np.int64)


def _cifar_torchvision(root: Path, download: bool) -> tuple[Arrays, Arrays]:
    import torchvision  # lazy: torchvision (~2 s) only for its dataset classes

    sets = [torchvision.datasets.CIFAR10(root=str(root), train=t, download=download) for t in (True, False)]
    return tuple((np.asarray(s.data).transpose(0, 3, 1, 2), np.asarray(s.targets)) for s in sets)


def cifar10_arrays(root: str | None, download: bool) -> tuple[Arrays, Arrays]:
    """CIFAR-10 ``(train, test)`` arrays from ``root/cifar-10-batches-py``.

    Official files (md5-verified) are read by torchvision; unverified files in the same
    format are read by :func:`read_cifar_batches` with a warning.

    Raises:
        UserInputError: no ``root``, or the batch files are missing and not downloadable.
    """
    from torchvision.datasets import CIFAR10  # lazy: torchvision (~2 s) only for its dataset classes

    path = _need_root("CIFAR10", root)
    try:
        return _cifar_torchvision(path, download)
    except (RuntimeError, OSError) as err:
        folder = path / CIFAR10.base_folder
        train = [f for f, _ in CIFAR10.train_list]
        test = [f for f, _ in CIFAR10.test_list]
        if not all((folder / f).is_file() for f in train + test):
            raise _missing("CIFAR10", path, download, err,
                           "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}") from err
        warnings.warn(f"{folder} does not hold the official CIFAR-10 files (torchvision's md5 check "
                      f"failed: {err}); reading them as CIFAR-10 pickled batches anyway.", stacklevel=2)
        return read_cifar_batches(folder, train), read_cifar_batches(folder, test)


def _gtsrb_split(root: Path, split: str, download: bool, size: int) -> Arrays:
    # lazy: torchvision (~2 s) only for its dataset classes
    import torchvision
    from torchvision.transforms import Resize

    data = torchvision.datasets.GTSRB(root=str(root), split=split, download=download,
                                      transform=Resize((size, size)))
    if len(data) == 0:
        raise RuntimeError(f"the GTSRB {split} split has no images")
    pairs = [(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1), label) for img, label in data]
    return np.stack([p[0] for p in pairs]), np.asarray([p[1] for p in pairs], dtype=np.int64)


def gtsrb_arrays(root: str | None, download: bool, size: int = 32) -> tuple[Arrays, Arrays]:
    """GTSRB ``(train, test)`` arrays, images resized to ``size x size`` (``N x 3 x size x size``).

    Layout (torchvision's): ``root/gtsrb/GTSRB/Training/<class:05d>/*.ppm`` and
    ``root/gtsrb/GTSRB/Final_Test/Images/*.ppm`` with labels in ``root/gtsrb/GT-final_test.csv``.

    Raises:
        UserInputError: no ``root``, or the files are missing and not downloadable.
    """
    path = _need_root("GTSRB", root)
    try:
        return _gtsrb_split(path, "train", download, size), _gtsrb_split(path, "test", download, size)
    except (RuntimeError, OSError, KeyError) as err:
        raise _missing("GTSRB", path, download, err, "gtsrb/GTSRB/Training/<class>/*.ppm, "
                       "gtsrb/GTSRB/Final_Test/Images/*.ppm and gtsrb/GT-final_test.csv") from err


def load_cifar10(root: str | None, download: bool, seed: int) -> Splits:
    """CIFAR-10: 45,000 / 5,000 / 10,000 split (reader: :func:`cifar10_arrays`)."""
    train, test = cifar10_arrays(root, download)
    return splits_from_arrays(train, test, seed, CIFAR_MEAN, CIFAR_STD, 10, 5000)


def load_gtsrb(root: str | None, download: bool, seed: int) -> Splits:
    """GTSRB, 43 classes, 32 x 32: 39,209 training images (10 % held out for validation) / 12,630 test."""
    train, test = gtsrb_arrays(root, download)
    return splits_from_arrays(train, test, seed, GTSRB_MEAN, GTSRB_STD, 43, val_size=len(train[1]))
