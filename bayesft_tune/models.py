"""Model registry: networks of the paper, built by name.

Later tasks add entries with :func:`register_model`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Sequence

from torch import nn

from bayesft_tune.errors import UserInputError

__all__ = ["build_model", "model_names", "register_model", "mlp", "lenet5"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model builder under ``name``."""
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = fn
        return fn
    return deco


def model_names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model.

    Raises:
        UserInputError: unknown name (the message lists the registered names).
    """
    if name not in _REGISTRY:
        raise UserInputError(f"unknown model {name!r}; registered models are {model_names()}. "
                             "Pass one of these names.")
    return _REGISTRY[name](**kwargs)


@register_model("mlp")
def mlp(in_features: int = 784, hidden: Sequence[int] = (192, 32), num_classes: int = 10,
        activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Multi-layer perceptron; the default 784-192-32-10 is the authors' 3-layer MLP.

    Input ``N x C x H x W`` (flattened) or ``N x in_features``; output ``N x num_classes`` logits.
    Layers are named ``fc1 .. fcK``, so the dropout slots are ``fc1 .. fc(K-1)``.
    """
    widths = [in_features, *hidden, num_classes]
    if any(int(w) < 1 for w in widths):
        raise UserInputError(f"MLP widths must be positive integers; got {widths}.")
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        layers.append((f"fc{i}", nn.Linear(int(a), int(b))))
        if i < len(widths) - 1:
            layers.append((f"act{i}", activation()))
    return nn.Sequential(OrderedDict(layers))


class LeNet5(nn.Module):
    """LeNet-5 for ``N x 1 x 28 x 28`` inputs (padded first convolution); ``N x 10`` logits.

    Five Linear/Conv layers (conv1, conv2, fc1, fc2, fc3): four dropout slots.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):  # noqa: D102
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = x.flatten(1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


@register_model("lenet5")
def lenet5(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """LeNet-5 (see :class:`LeNet5`)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels)


# The paper's model zoo registers itself here (after register_model exists: no import cycle).
from bayesft_tune import zoo as _zoo  # noqa: E402,F401
