"""ResNet-18 and pre-activation ResNet-18 for CIFAR-10 (He et al. 2016a/b).

CIFAR variants: a 3x3 stride-1 stem with no max-pool, four stages of two basic
blocks (64/128/256/512 channels, strides 1/2/2/2), global average pooling and one
Linear layer. Input ``N x 3 x 32 x 32``; output ``N x num_classes`` logits.

Slots: 1 stem conv + 16 block convs + 3 projection shortcuts (1x1 convs) + 1 Linear
= 21 layers -> 20 dropout slots (a block's dropout acts on its residual branch
before the addition; a shortcut's dropout on the projected identity).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from bayesft_tune.errors import UserInputError
from bayesft_tune.zoo.cifar import _check_classes

__all__ = ["BasicBlock", "PreActBlock", "CifarResNet", "preact_resnet18", "resnet18"]


def _shortcut(c_in: int, c_out: int, stride: int, batch_norm: bool) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return nn.Sequential()
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Post-activation basic block: ``relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x))``."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = _shortcut(c_in, c_out, stride, batch_norm=True)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class PreActBlock(nn.Module):
    """Pre-activation basic block: ``conv2(relu(bn2(conv1(relu(bn1 x))))) + shortcut``."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.shortcut = _shortcut(c_in, c_out, stride, batch_norm=False)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        out = F.relu(self.bn1(x))
        short = self.shortcut(out) if len(self.shortcut) else x
        out = self.conv1(out)
        return self.conv2(F.relu(self.bn2(out))) + short


class CifarResNet(nn.Module):
    """ResNet for 32 x 32 inputs with ``blocks`` basic blocks per stage.

    Args:
        block: :class:`BasicBlock` or :class:`PreActBlock`.
        blocks: blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
        num_classes: output classes.
        preact: pre-activation layout (a final BN + ReLU before pooling, none after the stem).
        width: channels of the stem and first stage (64 standard; stages double it).
    """

    def __init__(self, block: type[nn.Module], blocks: tuple[int, ...] = (2, 2, 2, 2),
                 num_classes: int = 10, preact: bool = False, width: int = 64) -> None:
        super().__init__()
        if int(width) != width or width < 1:
            raise UserInputError(f"ResNet width must be an integer >= 1; got {width!r}.")
        w = int(width)
        self.conv1 = nn.Conv2d(3, w, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.Identity() if preact else nn.BatchNorm2d(w)
        stages, c_in = [], w
        for i, (n, width) in enumerate(zip(blocks, (w, 2 * w, 4 * w, 8 * w))):
            strides = [1 if i == 0 else 2] + [1] * (n - 1)
            stages.append(nn.Sequential(*[block(c_in if j == 0 else width, width, s)
                                          for j, s in enumerate(strides)]))
            c_in = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn_final = nn.BatchNorm2d(c_in) if preact else nn.Identity()
        self.linear = nn.Linear(c_in, _check_classes(num_classes))
        self.preact = preact

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        out = self.conv1(x)
        out = out if self.preact else F.relu(self.bn1(out))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        if self.preact:
            out = F.relu(self.bn_final(out))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def resnet18(num_classes: int = 10, width: int = 64) -> CifarResNet:
    """CIFAR ResNet-18 (3x3 stem, no max-pool); 20 dropout slots."""
    return CifarResNet(BasicBlock, (2, 2, 2, 2), num_classes=num_classes, width=width)


def preact_resnet18(num_classes: int = 10, width: int = 64) -> CifarResNet:
    """CIFAR pre-activation ResNet-18 (He et al. 2016b); 20 dropout slots."""
    return CifarResNet(PreActBlock, (2, 2, 2, 2), num_classes=num_classes, preact=True, width=width)
