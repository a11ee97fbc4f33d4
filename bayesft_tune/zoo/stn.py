"""Spatial transformer network for GTSRB (43 classes, ``N x 3 x 32 x 32`` inputs).

In the style of Arcos-Garcia et al. (2018) and the PyTorch STN tutorial: a
localisation net (two convs + a 2-layer regression head ``fc_loc`` producing the
``N x 2 x 3`` affine matrix, initialised to the identity) warps the input, then a
3-conv + 2-Linear classifier reads the warped image.

Dropout slots: **the localisation net gets none.** A dropout on the affine
regression output zeroes (and rescales) entries of the transform matrix, which
warps the image arbitrarily in training; dropouts inside the localisation net
add noise to the warp rather than regularising the classifier. The network sets
``dropout_exclude = ("localization", "fc_loc")``, so :func:`bayesft_tune.dropout_slots`
returns the classifier's layers only: ``conv1, conv2, conv3, fc1`` (4 slots; ``fc2``
is the output). Weight drift still applies to every parameter, the localisation
net's included (the whole network sits on the crossbar).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bayesft_tune.zoo.cifar import _check_classes

__all__ = ["GTSRBSpatialTransformer", "stn"]


class GTSRBSpatialTransformer(nn.Module):
    """STN + CNN classifier; input ``N x 3 x 32 x 32``, output ``N x num_classes`` logits.

    Args:
        num_classes: output classes (43 for GTSRB).
        widths: channels of the classifier's three convs.
        fc_width: width of the hidden Linear layer.
    """

    dropout_exclude = ("localization", "fc_loc")

    def __init__(self, num_classes: int = 43, widths: tuple[int, int, int] = (100, 150, 250),
                 fc_width: int = 350) -> None:
        super().__init__()
        self.localization = nn.Sequential(
            nn.Conv2d(3, 8, 7), nn.MaxPool2d(2), nn.ReLU(True),   # 32 -> 26 -> 13
            nn.Conv2d(8, 10, 5), nn.MaxPool2d(2), nn.ReLU(True))  # 13 -> 9 -> 4
        self.fc_loc = nn.Sequential(nn.Linear(10 * 4 * 4, 32), nn.ReLU(True), nn.Linear(32, 6))
        with torch.no_grad():  # start at the identity transform
            self.fc_loc[2].weight.zero_()
            self.fc_loc[2].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
        w1, w2, w3 = (int(w) for w in widths)
        self.conv1 = nn.Conv2d(3, w1, 5, padding=2)   # 32 -> pool 16
        self.conv2 = nn.Conv2d(w1, w2, 3, padding=1)  # 16 -> pool 8
        self.conv3 = nn.Conv2d(w2, w3, 3, padding=1)  # 8 -> pool 4
        self.fc1 = nn.Linear(w3 * 4 * 4, fc_width)
        self.fc2 = nn.Linear(fc_width, _check_classes(num_classes))

    def transform(self, x: Tensor) -> Tensor:
        """Warp ``x`` (``N x 3 x 32 x 32``) by the predicted affine transform."""
        theta = self.fc_loc(self.localization(x).flatten(1)).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        x = self.transform(x)
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def stn(num_classes: int = 43, widths: tuple[int, int, int] = (100, 150, 250),
        fc_width: int = 350) -> GTSRBSpatialTransformer:
    """GTSRB spatial transformer (see :class:`GTSRBSpatialTransformer`); 4 dropout slots."""
    return GTSRBSpatialTransformer(num_classes=num_classes, widths=widths, fc_width=fc_width)
