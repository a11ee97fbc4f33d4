"""AlexNet and VGG for CIFAR-10 (``N x 3 x 32 x 32`` inputs, ``N x num_classes`` logits).

Slot counts (Linear/Conv layers minus the output layer):

* ``alexnet``: 5 convs + 3 Linear = 8 layers -> 7 slots.
* ``vgg11``: 8 convs + 1 Linear = 9 layers -> 8 slots.
* ``vgg16``: 13 convs + 1 Linear = 14 layers -> 13 slots.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from torch import Tensor, nn

from bayesft_tune.errors import UserInputError

__all__ = ["AlexNetCifar", "VGGCifar", "VGG_CONFIGS", "alexnet", "vgg11", "vgg16"]

VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"),
}
"""Channel widths per conv, ``"M"`` = 2x2 max-pool (Simonyan & Zisserman, configs A and D)."""


def _check_classes(num_classes: int) -> int:
    if int(num_classes) != num_classes or num_classes < 2:
        raise UserInputError(f"num_classes must be an integer >= 2; got {num_classes!r}.")
    return int(num_classes)


class AlexNetCifar(nn.Module):
    """AlexNet adapted to 32 x 32 inputs (3x3 convs, three 2x2 pools, 3-layer classifier).

    Input ``N x 3 x 32 x 32``; features ``N x 256 x 2 x 2``; output ``N x num_classes``.
    Layers: ``features.conv1..conv5``, ``classifier.fc1..fc3`` (7 dropout slots).
    """

    def __init__(self, num_classes: int = 10, fc_width: int = 1024) -> None:
        super().__init__()
        widths, act = (3, 64, 192, 384, 256, 256), lambda: nn.ReLU(inplace=True)
        layers: list[tuple[str, nn.Module]] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            stride = 2 if i == 1 else 1
            layers += [(f"conv{i}", nn.Conv2d(a, b, 3, stride=stride, padding=1)), (f"relu{i}", act())]
            if i in (1, 2, 5):
                layers.append((f"pool{i}", nn.MaxPool2d(2)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("fc1", nn.Linear(256 * 2 * 2, fc_width)), ("relu1", act()),
            ("fc2", nn.Linear(fc_width, fc_width)), ("relu2", act()),
            ("fc3", nn.Linear(fc_width, _check_classes(num_classes)))]))

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return self.classifier(self.features(x))


class VGGCifar(nn.Module):
    """VGG for 32 x 32 inputs: conv stack to ``N x 512 x 1 x 1``, one Linear classifier.

    The CIFAR variant common in the literature (e.g. kuangliu/pytorch-cifar): 3x3
    convs, optional BatchNorm after each conv, five max-pools, ``Linear(512, C)``.
    ``width`` scales every conv (64 = the standard widths; smaller for CPU smoke tests).
    """

    def __init__(self, config: Sequence[int | str], num_classes: int = 10,
                 batch_norm: bool = True, width: int = 64) -> None:
        super().__init__()
        if int(width) != width or width < 1:
            raise UserInputError(f"VGG width (channels of the first conv) must be an integer >= 1; "
                                 f"got {width!r}.")
        layers: list[nn.Module] = []
        channels = 3
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            out = max(1, int(v) * int(width) // 64)
            layers.append(nn.Conv2d(channels, out, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, _check_classes(num_classes))

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return self.classifier(self.features(x).flatten(1))


def alexnet(num_classes: int = 10, fc_width: int = 1024) -> AlexNetCifar:
    """CIFAR AlexNet (see :class:`AlexNetCifar`); 7 dropout slots."""
    return AlexNetCifar(num_classes=num_classes, fc_width=fc_width)


def vgg11(num_classes: int = 10, batch_norm: bool = True, width: int = 64) -> VGGCifar:
    """CIFAR VGG-11 (BatchNorm by default, as usual for CIFAR); 8 dropout slots."""
    return VGGCifar(VGG_CONFIGS["vgg11"], num_classes=num_classes, batch_norm=batch_norm, width=width)


def vgg16(num_classes: int = 10, batch_norm: bool = True, width: int = 64) -> VGGCifar:
    """CIFAR VGG-16 (BatchNorm by default, as usual for CIFAR); 13 dropout slots."""
    return VGGCifar(VGG_CONFIGS["vgg16"], num_classes=num_classes, batch_norm=batch_norm, width=width)
