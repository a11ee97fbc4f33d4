"""The model registry: network builders selectable by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from bayesft_tune.registry import Registry

__all__ = ["MODELS", "ModelSpec", "build_model", "model_names"]


@dataclass(frozen=True)
class ModelSpec:
    """A registered network.

    Attributes:
        name: registry name (``--model``, ``Task.model``).
        build: ``build(**kwargs) -> nn.Module``; a fresh network, seeded by the caller's torch RNG.
        input_shape: one input example of the default network, ``C x H x W`` (detection: one
            image of a size the network accepts; images may differ in size).
        kind: ``"classification"`` (a batch ``N x C x H x W`` -> ``N x classes`` logits) or
            ``"detection"`` (a list of images -> torchvision's loss dict / predictions).
        small: builder keyword arguments of a small network of the same kind (narrower layers,
            a tiny backbone), for CPU tests (empty: the default is small enough).
    """

    name: str
    build: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    kind: str = "classification"
    small: dict[str, Any] = field(default_factory=dict)


MODELS: Registry[ModelSpec] = Registry("model", "Pass one of these names.")
"""Model name -> :class:`ModelSpec`; filled by :mod:`bayesft_tune.models`' ``__init__``."""


def model_names() -> list[str]:
    """Registered model names, in registration order."""
    return MODELS.names()


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model.

    Raises:
        UserInputError: unknown name (the message lists the registered names).
    """
    return MODELS.get(name).build(**kwargs)
