"""Data without code: a ``.npz`` file of arrays or a torchvision ImageFolder directory,
read into :class:`~bayesft_tune.data.Splits` (``bayesft-tune search --data PATH``).

    data = DataFile("digits.npz")          # x_train, y_train, x_test, y_test [, x_val, y_val]
    data = DataFile("photos/")             # train/<class>/*.png, test/<class>/*.png
    splits = data(seed=0)

A :class:`DataFile` is a picklable ``(seed) -> Splits`` callable: it travels to Ray workers
by value and reads its file where it runs (on a cluster the path must be readable there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bayesft_tune.data._base import Splits, from_arrays
from bayesft_tune.errors import UserInputError

__all__ = ["NPZ_KEYS", "DataFile", "read_image_folder", "read_npz"]

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
"""Arrays a ``--data FILE.npz`` must hold (``x_val``, ``y_val`` optional)."""
VAL_FRACTION = 0.1
"""Share of the training rows held out for validation when the file has no validation split."""


def read_npz(path: str, seed: int) -> Splits:
    """:class:`Splits` of a ``.npz`` holding :data:`NPZ_KEYS` (and optionally ``x_val``, ``y_val``).

    Without ``x_val``/``y_val`` a stratified 10 % of the training rows (seeded by ``seed``,
    the search's ``--data-seed``) is the validation split.
    """
    try:
        with np.load(path, allow_pickle=False) as arrays:
            values = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError) as err:
        raise UserInputError(f"could not read --data {path!r} as a .npz of arrays: {err}. Save one with "
                             f"np.savez(path, {', '.join(f'{k}=...' for k in NPZ_KEYS)}).") from err
    missing = [k for k in NPZ_KEYS if k not in values]
    if missing or ("x_val" in values) != ("y_val" in values):
        raise UserInputError(f"--data {path!r} holds arrays {sorted(values)}; it needs {list(NPZ_KEYS)} (and "
                             f"x_val with y_val, or neither); missing {missing or ['x_val or y_val']}.")
    val = (values["x_val"], values["y_val"]) if "x_val" in values else None
    return from_arrays(values["x_train"], values["y_train"], seed=seed, val_fraction=VAL_FRACTION,
                       test=(values["x_test"], values["y_test"]), val=val)


def read_image_folder(root: str, seed: int) -> Splits:
    """:class:`Splits` of torchvision's ImageFolder layout: ``root/train/<class>/…`` and
    ``root/test/<class>/…`` (same class folders, same image size; grey-scale images keep one
    channel); 10 % of train is validation."""
    images = {part: _folder_arrays(os.path.join(root, part)) for part in ("train", "test")}
    (x, y, classes), (x_te, y_te, test_classes) = images["train"], images["test"]
    if classes != test_classes:
        raise UserInputError(f"--data {root!r}: train/ has classes {classes} but test/ has {test_classes}; "
                             "both need the same class folders.")
    return from_arrays(x, y, seed=seed, val_fraction=VAL_FRACTION, test=(x_te, y_te))


def _folder_arrays(path: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from torchvision.datasets import ImageFolder  # noqa: PLC0415  (torchvision only for image folders)

    if not os.path.isdir(path):
        raise UserInputError(f"--data directory needs {os.path.basename(path)}/<class>/<image> (torchvision's "
                             f"ImageFolder layout); {path!r} is not a directory.")
    try:
        folder = ImageFolder(path)
    except (OSError, FileNotFoundError) as err:
        raise UserInputError(f"could not read images under {path!r}: {err}. Use ImageFolder's layout, "
                             "<class>/<image>.png.") from err
    arrays = [_pixels(p) for p, _ in folder.samples]
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) != 1:
        raise UserInputError(f"images under {path!r} differ in size ({shapes[:3]}...); resize them to one size "
                             "first.")
    x = np.stack(arrays)
    x = x.transpose(0, 3, 1, 2) if x.ndim == 4 else x  # N x H x W x C -> N x C x H x W
    return x, np.array([t for _, t in folder.samples]), list(folder.classes)


def _pixels(path: str) -> np.ndarray:
    """One image: ``H x W`` for grey-scale files, ``H x W x 3`` otherwise (alpha and palettes to RGB)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L" if image.mode in ("1", "L", "I", "I;16", "F") else "RGB"))


@dataclass(frozen=True)
class DataFile:
    """``(seed) -> Splits`` of a ``.npz`` file or an ImageFolder directory (see the module docstring).

    Attributes:
        path: absolute path of the file or directory.
    """

    path: str

    def __post_init__(self) -> None:
        if not os.path.exists(self.path):
            raise UserInputError(f"--data {self.path!r} does not exist; pass a .npz file of arrays or an "
                                 "ImageFolder directory (train/<class>/..., test/<class>/...).")
        if os.path.isfile(self.path) and not self.path.endswith(".npz"):
            raise UserInputError(f"--data {self.path!r} is a file but not a .npz; pass a .npz of arrays or an "
                                 "ImageFolder directory.")

    def __call__(self, seed: int) -> Splits:
        return read_image_folder(self.path, seed) if os.path.isdir(self.path) else read_npz(self.path, seed)

    @property
    def stem(self) -> str:
        """The file or directory name without its suffix (a task name)."""
        return os.path.splitext(os.path.basename(os.path.normpath(self.path)))[0]
