"""Put a dropout after every Linear/Conv layer of any network but the output layer.

The dropout is attached to the layer itself (a child module named ``dropout`` plus
a forward hook), so the network's ``state_dict`` keys are unchanged: weights move
freely between networks with different dropout vectors (the paper's Algorithm 1
carries weights across BO rounds).

A network can keep sub-networks out of the slots (e.g. a spatial transformer's
localisation net, or Mask R-CNN's backbone and RPN): pass ``exclude`` (module-path
prefixes) or give the network a ``dropout_exclude`` attribute, which is the default
of ``exclude``. The output layer is the last Linear/Conv layer *not* excluded.
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

from torch import Tensor, nn

from bayesft_tune.errors import UserInputError

__all__ = ["DROPOUT_LAYERS", "EXCLUDE_ATTRIBUTE", "add_dropout", "dropout_rates", "dropout_slots",
           "slot_parameter_name"]

DROPOUT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
"""Layer types that get a dropout slot (the paper's "layers" K)."""

EXCLUDE_ATTRIBUTE = "dropout_exclude"
"""Attribute a network may define: module-path prefixes whose layers get no slot."""


def _apply_dropout(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
    """Forward hook: the layer's output passes through its ``dropout`` child."""
    return module.dropout(output)


def _excluded(model: nn.Module, exclude: Sequence[str] | None) -> tuple[str, ...]:
    if exclude is None:
        exclude = getattr(model, EXCLUDE_ATTRIBUTE, ())
    if isinstance(exclude, str):
        raise UserInputError(f"exclude must be a sequence of module-path prefixes, not a string; "
                             f"got {exclude!r}. Pass e.g. [{exclude!r}].")
    return tuple(exclude)


def _layers(model: nn.Module, exclude: Sequence[str] | None = None) -> list[tuple[str, nn.Module]]:
    prefixes = _excluded(model, exclude)
    names = {n for n, _ in model.named_modules()}
    unknown = [p for p in prefixes if p not in names]
    if unknown:
        raise UserInputError(f"exclude names modules {unknown} that {type(model).__name__} does not "
                             f"have. Pass module paths from model.named_modules().")
    hidden = lambda n: any(n == p or n.startswith(p + ".") for p in prefixes)
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, DROPOUT_LAYERS) and not hidden(n)]


def dropout_slots(model: nn.Module, exclude: Sequence[str] | None = None) -> list[str]:
    """Names of the layers followed by a dropout slot, in forward order.

    These are the module paths of all Linear/Conv layers in registration order
    (which is forward order for ``nn.Sequential`` and for torchvision's models),
    without the last one, the output layer: K layers give K - 1 slots.

    Args:
        model: the network.
        exclude: module-path prefixes (e.g. ``["localization", "fc_loc"]``) whose
            layers are skipped before the output layer is dropped. None: the
            network's ``dropout_exclude`` attribute, or nothing.

    Raises:
        UserInputError: if fewer than two Linear/Conv layers remain.
    """
    layers = _layers(model, exclude)
    if len(layers) < 2:
        raise UserInputError(
            f"a network needs at least 2 Linear/Conv layers to have a dropout slot; "
            f"{type(model).__name__} has {len(layers)}. Pass a deeper network.")
    return [name for name, _ in layers[:-1]]


def slot_parameter_name(slot: str) -> str:
    """Search-space parameter name of a slot, e.g. ``'layer1.0.conv1'`` -> ``'dropout_layer1_0_conv1'``."""
    return "dropout_" + slot.replace(".", "_")


def _check_rates(slots: list[str], rates: Sequence[float] | Mapping[str, float]) -> list[float]:
    if isinstance(rates, Mapping):
        unknown = sorted(set(rates) - set(slots))
        missing = [s for s in slots if s not in rates]
        if unknown or missing:
            raise UserInputError(f"dropout rates must name every slot once; unknown {unknown}, "
                                 f"missing {missing}. The slots are {slots}.")
        values = [rates[s] for s in slots]
    else:
        values = list(rates)
        if len(values) != len(slots):
            raise UserInputError(f"need one dropout rate per slot: {len(slots)} slots {slots}, "
                                 f"got {len(values)} rates {values}. Pass {len(slots)} rates.")
    for slot, p in zip(slots, values):
        if not 0.0 <= float(p) < 1.0:
            raise UserInputError(f"dropout rate must satisfy 0 <= p < 1; got p={p!r} for slot "
                                 f"{slot!r}. Pass a rate in [0, 1).")
    return [float(p) for p in values]


def add_dropout(model: nn.Module, rates: Sequence[float] | Mapping[str, float],
                inplace: bool = False, exclude: Sequence[str] | None = None) -> nn.Module:
    """Return ``model`` with a dropout of the given rate after each slot layer.

    Args:
        model: any network with at least two Linear/Conv layers.
        rates: one rate per slot of :func:`dropout_slots`, in order, or a mapping
            slot name -> rate. ``0 <= p < 1``. A network that already has dropouts
            gets its rates replaced.
        inplace: modify ``model`` instead of a deep copy.
        exclude: as in :func:`dropout_slots`.

    Returns:
        The network with dropouts; they are active in ``train()`` and the identity
        in ``eval()``.

    Raises:
        UserInputError: wrong number of rates, unknown slot names, or a rate outside [0, 1).
    """
    slots = dropout_slots(model, exclude)
    values = _check_rates(slots, rates)
    out = model if inplace else copy.deepcopy(model)
    modules = dict(out.named_modules())
    for slot, p in zip(slots, values):
        layer = modules[slot]
        if isinstance(getattr(layer, "dropout", None), nn.Dropout):
            layer.dropout.p = p
            continue
        layer.add_module("dropout", nn.Dropout(p))
        layer.register_forward_hook(_apply_dropout)
    return out


def dropout_rates(model: nn.Module, exclude: Sequence[str] | None = None) -> dict[str, float]:
    """Current dropout rate of each slot (0.0 where no dropout is attached)."""
    modules = dict(model.named_modules())
    return {s: float(getattr(getattr(modules[s], "dropout", None), "p", 0.0))
            for s in dropout_slots(model, exclude)}
