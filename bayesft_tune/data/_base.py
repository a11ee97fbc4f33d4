"""Dataset registry and split helpers shared by every loader.

Every classification loader returns :class:`Splits` of in-memory ``TensorDataset`` s
with images ``N x C x H x W`` (float32, standardised) and labels ``N`` (int64); the
detection loader returns datasets of ``(image, target)`` pairs (see ``pennfudan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import TensorDataset

from bayesft_tune.errors import UserInputError
from bayesft_tune.registry import Registry

__all__ = ["DATASETS", "Loader", "Splits", "dataset_names", "from_arrays", "load_data", "make_set",
           "splits_from_arrays", "standardise", "stratified_split", "val_size_for"]


@dataclass(frozen=True)
class Splits:
    """Train / validation / test sets of one dataset.

    Attributes:
        train, val, test: ``TensorDataset`` s of inputs (float32) and labels (int64).
        num_classes: labels lie in ``[0, num_classes)``.
        input_shape: one input example, ``C x H x W`` for images, ``D`` for features.
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]

    @classmethod
    def from_arrays(cls, x: np.ndarray, y: np.ndarray, *, seed: int, val_fraction: float = 0.1,
                    test: tuple[np.ndarray, np.ndarray] | None = None,
                    test_fraction: float | None = None) -> "Splits":
        """Classification splits from arrays: stratified, standardised and typed.

        Args:
            x: inputs, ``N x C x H x W`` or ``N x H x W`` images (a channel is added) or
                ``N x D`` features; any real dtype.
            y: integer labels ``N`` in ``[0, classes)``.
            seed: seeds the stratified split(s).
            val_fraction: share of ``x`` held out for validation (the search's objective).
            test: ``(x_test, y_test)`` of a separate test set; else ``test_fraction`` of ``x``.
            test_fraction: share of ``x`` held out for testing when ``test`` is None.

        Standardisation uses the training part's statistics (per channel for images, per
        feature for features), applied to every split.

        Raises:
            UserInputError: shapes, labels, fractions or split sizes that break a rule (named).
        """
        return from_arrays(x, y, seed=seed, val_fraction=val_fraction, test=test, test_fraction=test_fraction)


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
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise UserInputError(f"load_data seed (the split's seed) must be an integer in [0, 2**32); got seed={seed!r}. "
                             "Pass e.g. seed=0.")
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


def _as_inputs(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as float64 ``N x C x H x W`` or ``N x D`` (``N x H x W`` gains a channel)."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3, 4):
        raise UserInputError(f"{name} must be a real array N x D (features), N x H x W or N x C x H x W "
                             f"(images); got dtype {x.dtype}, shape {x.shape}. Pass numeric inputs, one row each.")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise UserInputError(f"{name} holds {int((~np.isfinite(x)).sum())} NaN or infinite values; "
                             "impute or drop those rows before searching.")
    return x[:, None] if x.ndim == 3 else x


def _as_labels(y: np.ndarray, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n or y.dtype.kind not in "biu" and not (y.dtype.kind == "f" and
                                                                       np.all(np.mod(y, 1) == 0)):
        raise UserInputError(f"{name} must be N = {n} integer class labels; got dtype {y.dtype}, shape "
                             f"{y.shape}. Encode classes as 0..K-1 (e.g. sklearn's LabelEncoder).")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise UserInputError(f"{name} holds a negative label ({int(y.min())}); labels must lie in [0, classes). "
                             "Encode classes as 0..K-1.")
    return y


def _fraction(value: float | None, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
        raise UserInputError(f"{name} must be a fraction in (0, 1); got {name}={value!r}. Pass e.g. 0.15.")
    return float(value)


def _split_sizes(y: np.ndarray, fractions: Sequence[float], classes: int) -> tuple[int, ...]:
    sizes = tuple(max(classes, round(f * len(y))) for f in fractions)
    smallest = int(np.bincount(y, minlength=classes).min())
    if len(y) - sum(sizes) < classes or smallest < len(sizes) + 1:
        raise UserInputError(f"{len(y)} rows with {classes} classes (smallest class {smallest} rows) "
                             f"are too few for held-out parts of {list(sizes)} rows stratified by class; "
                             "every class needs a row in every split. Pass more data or smaller fractions.")
    return sizes


def _standardised(x: np.ndarray, ref: np.ndarray) -> torch.Tensor:
    axes = (0, 2, 3) if ref.ndim == 4 else (0,)
    mean, std = ref.mean(axis=axes, keepdims=True), ref.std(axis=axes, keepdims=True)
    return torch.as_tensor((x - mean) / np.where(std > 0, std, 1.0), dtype=torch.float32)


def _given(pair: tuple[np.ndarray, np.ndarray], name: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A separately given ``(x_name, y_name)`` split, checked against the training inputs' row shape."""
    x = _as_inputs(pair[0], f"x_{name}")
    if x.shape[1:] != shape:
        raise UserInputError(f"x_{name} rows have shape {x.shape[1:]} but x rows {shape}; every split needs the "
                             "same input shape.")
    return x, _as_labels(pair[1], len(x), f"y_{name}")


def from_arrays(x: np.ndarray, y: np.ndarray, *, seed: int, val_fraction: float = 0.1,
                test: tuple[np.ndarray, np.ndarray] | None = None, test_fraction: float | None = None,
                val: tuple[np.ndarray, np.ndarray] | None = None) -> Splits:
    """:meth:`Splits.from_arrays` (its docstring has the rules); ``val``: a given validation split."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise UserInputError(f"seed must be an integer in [0, 2**32); got seed={seed!r}. Pass e.g. seed=0.")
    if (test is None) == (test_fraction is None):
        raise UserInputError("Splits.from_arrays needs one test set: pass test=(x_test, y_test) or test_fraction "
                             f"(e.g. 0.2); got test={'given' if test is not None else None}, "
                             f"test_fraction={test_fraction!r}.")
    x = _as_inputs(x, "x")
    y = _as_labels(y, len(x), "y")
    given = {name: _given(pair, name, x.shape[1:]) for name, pair in (("val", val), ("test", test)) if pair is not None}
    held_out = {name: _fraction(f, f"{name}_fraction") for name, f in (("val", val_fraction), ("test", test_fraction))
                if name not in given}
    classes = int(max([y.max(initial=0), *(g[1].max(initial=0) for g in given.values())])) + 1
    parts = dict(zip(["train", *held_out], stratified_split(y, _split_sizes(y, list(held_out.values()), classes),
                                                             seed)))
    train = parts.pop("train")
    ref = x[train]
    sets = {name: make_set(_standardised(gx, ref), gy, np.arange(len(gy))) for name, (gx, gy) in given.items()}
    xs = _standardised(x, ref)
    sets |= {name: make_set(xs, y, idx) for name, idx in parts.items()}
    return Splits(make_set(xs, y, train), sets["val"], sets["test"], classes, tuple(x.shape[1:]))
