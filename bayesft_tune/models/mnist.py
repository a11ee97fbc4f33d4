"""The MNIST networks of the paper: the 3-layer MLP and LeNet-5 (``N x C x H x W`` in, logits out)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Sequence

from torch import nn

from bayesft_tune.errors import UserInputError

__all__ = ["ACTIVATIONS", "NORMS", "LeNet5", "lenet5", "mlp"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
                                           "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
"""Activation name -> module class (the ``activation`` knob of ``mlp`` and ``lenet5``)."""

NORMS: tuple[str, ...] = ("none", "batch", "layer")
"""Normalisation after each hidden layer (before the activation): none, BatchNorm, LayerNorm
(for convolutions, GroupNorm with one group: the layer norm of a feature map)."""


def _activation(activation: str | Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise UserInputError(f"unknown activation {activation!r}; valid names are {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[activation]


def _norm(norm: str, width: int, conv: bool) -> nn.Module | None:
    if norm not in NORMS:
        raise UserInputError(f"unknown norm {norm!r}; valid names are {list(NORMS)}.")
    if norm == "none":
        return None
    if norm == "batch":
        return nn.BatchNorm2d(width) if conv else nn.BatchNorm1d(width)
    return nn.GroupNorm(1, width) if conv else nn.LayerNorm(width)


def mlp(in_features: int = 784, hidden: Sequence[int] = (192, 32), num_classes: int = 10,
        activation: str | Callable[[], nn.Module] = "relu", norm: str = "none") -> nn.Sequential:
    """Multi-layer perceptron; the default 784-192-32-10 is the authors' 3-layer MLP.

    Input ``N x C x H x W`` (flattened) or ``N x in_features``; output ``N x num_classes`` logits.
    Layers are named ``fc1 .. fcK``, so the dropout slots are ``fc1 .. fc(K-1)``. ``activation``
    is a key of :data:`ACTIVATIONS` (or a module class); ``norm`` one of :data:`NORMS`.
    """
    widths = [in_features, *hidden, num_classes]
    if any(int(w) < 1 for w in widths):
        raise UserInputError(f"MLP widths must be positive integers; got {widths}.")
    act = _activation(activation)
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        layers.append((f"fc{i}", nn.Linear(int(a), int(b))))
        if i < len(widths) - 1:
            normalise = _norm(norm, int(b), conv=False)
            if normalise is not None:
                layers.append((f"norm{i}", normalise))
            layers.append((f"act{i}", act()))
    return nn.Sequential(OrderedDict(layers))


class LeNet5(nn.Module):
    """LeNet-5 for ``N x 1 x 28 x 28`` inputs (padded first convolution); ``N x 10`` logits.

    Five Linear/Conv layers (conv1, conv2, fc1, fc2, fc3): four dropout slots. ``widths``
    are the channels of conv1, conv2 and the widths of fc1, fc2 (LeCun's 6, 16, 120, 84);
    ``norm`` (one of :data:`NORMS`) follows each hidden layer, before the activation.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1,
                 widths: Sequence[int] = (6, 16, 120, 84), activation: str = "relu",
                 norm: str = "none") -> None:
        super().__init__()
        c1, c2, f1, f2 = (int(w) for w in widths)
        if min(c1, c2, f1, f2) < 1 or len(widths) != 4:
            raise UserInputError(f"LeNet5 widths must be 4 positive integers; got {tuple(widths)}.")
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.act = _activation(activation)()
        self.fc1 = nn.Linear(c2 * 5 * 5, f1)
        self.fc2 = nn.Linear(f1, f2)
        self.fc3 = nn.Linear(f2, num_classes)
        self.norms = nn.ModuleList([n or nn.Identity() for n in (
            _norm(norm, c1, True), _norm(norm, c2, True), _norm(norm, f1, False), _norm(norm, f2, False))])

    def forward(self, x):  # noqa: D102
        n1, n2, n3, n4 = self.norms
        x = self.pool(self.act(n1(self.conv1(x))))
        x = self.pool(self.act(n2(self.conv2(x))))
        x = x.flatten(1)
        x = self.act(n3(self.fc1(x)))
        x = self.act(n4(self.fc2(x)))
        return self.fc3(x)


def lenet5(num_classes: int = 10, in_channels: int = 1, widths: Sequence[int] = (6, 16, 120, 84),
           activation: str = "relu", norm: str = "none") -> LeNet5:
    """LeNet-5 (see :class:`LeNet5`)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, widths=widths,
                  activation=activation, norm=norm)

