"""PennFudanPed pedestrian detection/segmentation (Wang et al. 2007) for Mask R-CNN.

Official layout (the zip's ``PennFudanPed/`` folder): ``PNGImages/FudanPed00001.png``
(RGB) with ``PedMasks/FudanPed00001_mask.png`` (one 8-bit image; 0 = background,
``k`` = the k-th pedestrian). As in torchvision's detection tutorial, each instance id
becomes a binary mask, its tight box, and label 1 (person).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset, Subset

from bayesft_tune.data._base import Splits
from bayesft_tune.errors import UserInputError

__all__ = ["PENNFUDAN_URL", "PennFudanPed", "load_pennfudan"]

PENNFUDAN_URL = "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"
Target = dict[str, Tensor]


def _instances(mask: np.ndarray) -> tuple[Tensor, Tensor]:
    """``H x W`` instance-id mask -> ``(masks K x H x W uint8, boxes K x 4 float32 xyxy)``."""
    ids = np.unique(mask)
    ids = ids[ids != 0]
    masks = torch.as_tensor(mask[None] == ids[:, None, None], dtype=torch.uint8)
    boxes = []
    for m in masks:
        ys, xs = torch.where(m > 0)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])  # +1: non-empty area
    return masks, torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)


class PennFudanPed(Dataset):
    """PennFudanPed held in memory; item ``i`` is ``(image 3 x H x W float in [0, 1], target)``.

    ``target``: ``boxes`` ``K x 4`` (x1, y1, x2, y2), ``labels`` ``K`` (int64, all 1),
    ``masks`` ``K x H x W`` (uint8), ``image_id`` (int), ``area`` ``K``, ``iscrowd`` ``K``.

    Args:
        root: the ``PennFudanPed`` folder, or a directory containing it.

    Raises:
        UserInputError: the folders are missing, empty, or an image has no mask.
    """

    def __init__(self, root: str | Path) -> None:
        folder = self.find(Path(root))
        names = sorted(p.name for p in (folder / "PNGImages").glob("*.png"))
        if not names:
            raise UserInputError(f"{folder / 'PNGImages'} holds no .png images; pass --data-dir "
                                 "pointing at the extracted PennFudanPed folder.")
        self.images, self.targets = [], []
        for i, name in enumerate(names):
            mask_path = folder / "PedMasks" / name.replace(".png", "_mask.png")
            if not mask_path.is_file():
                raise UserInputError(f"image {name} has no mask {mask_path}; the PennFudanPed "
                                     "layout pairs PNGImages/X.png with PedMasks/X_mask.png.")
            image = np.array(Image.open(folder / "PNGImages" / name).convert("RGB"), dtype=np.uint8)
            masks, boxes = _instances(np.asarray(Image.open(mask_path)))
            self.images.append(torch.as_tensor(image).permute(2, 0, 1).contiguous())
            area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            self.targets.append({"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64),
                                 "masks": masks, "image_id": i, "area": area,
                                 "iscrowd": torch.zeros(len(boxes), dtype=torch.int64)})
        self.names = names

    @staticmethod
    def find(root: Path) -> Path:
        """The folder holding ``PNGImages`` and ``PedMasks`` (``root`` or ``root/PennFudanPed``)."""
        for cand in (root, root / "PennFudanPed"):
            if (cand / "PNGImages").is_dir() and (cand / "PedMasks").is_dir():
                return cand
        raise FileNotFoundError(f"no PennFudanPed/PNGImages and PedMasks under {root.resolve()}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Target]:
        return self.images[index].float() / 255.0, dict(self.targets[index])


def _open(root: str | None, download: bool) -> PennFudanPed:
    if root is None:
        raise UserInputError("pennfudan needs a data directory; pass --data-dir DIR "
                             "(with --download to fetch the files into it).")
    try:
        PennFudanPed.find(Path(root))
    except FileNotFoundError as err:
        if not download:
            raise UserInputError(f"could not load PennFudanPed: {err}. With no network, pass --data-dir "
                                 "pointing at a directory holding PennFudanPed/PNGImages and "
                                 "PennFudanPed/PedMasks; with network, add --download.") from err
        from torchvision.datasets.utils import download_and_extract_archive  # lazy: torchvision (~2 s) only to download

        download_and_extract_archive(PENNFUDAN_URL, download_root=str(root))
    return PennFudanPed(root)


def load_pennfudan(root: str | None, download: bool, seed: int) -> Splits:
    """PennFudanPed (170 images): seeded split into 100 train / 20 val / 50 test (same fractions
    for other sizes, at least one image each). Splits hold ``Subset`` s of :class:`PennFudanPed`;
    ``num_classes`` 2 (background, person); ``input_shape`` ``(3,)``: image sizes vary."""
    data = _open(root, download)
    n = len(data)
    if n < 3:
        raise UserInputError(f"PennFudanPed needs >= 3 images for train/val/test; found {n} in {root}.")
    n_test, n_val = max(1, round(n * 50 / 170)), max(1, round(n * 20 / 170))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed))).tolist()
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return Splits(Subset(data, sorted(train)), Subset(data, sorted(val)), Subset(data, sorted(test)), 2, (3,))
