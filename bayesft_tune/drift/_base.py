"""Base class and registry of weight-drift models."""

from __future__ import annotations

import abc
import copy
from typing import Callable, ClassVar, Union

import torch
from torch import Tensor, nn

from bayesft_tune.errors import UserInputError
from bayesft_tune.registry import Registry

ParamFilter = Union[str, Callable[[str, nn.Parameter], bool]]
"""Which parameters drift: ``"all"`` (default, as in the paper), ``"weights"``
(tensors with ``ndim >= 2``: Linear/Conv weights, no biases or norm affine), or a
callable ``(name, parameter) -> bool``."""

class DriftModel(abc.ABC):
    """A model of how analog (ReRAM) cells corrupt stored weights.

    A drift draw is split in two so that one draw serves a whole σ grid:
    :meth:`draw` samples σ-independent noise (``N`` numbers for ``N`` weights), and
    :meth:`apply` maps clean weights, that noise and σ to drifted weights. Reusing
    the noise across σ makes points of a robustness curve comparable (common random
    numbers) and costs one draw per Monte Carlo sample instead of one per (sample, σ).

    Subclasses set ``name``; :mod:`bayesft_tune.drift` registers them in :data:`DRIFTS`.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def draw(self, numel: int, generator: torch.Generator, device: torch.device,
             dtype: torch.dtype) -> Tensor:
        """Sample σ-independent noise.

        Args:
            numel: number of weights ``N``.
            generator: seeded generator on ``device``.
            device: device of the weights.
            dtype: floating dtype of the weights.

        Returns:
            Noise of shape ``N``.
        """

    @abc.abstractmethod
    def apply(self, weights: Tensor, noise: Tensor, sigma: float, max_abs: Tensor) -> Tensor:
        """Drift clean weights.

        Args:
            weights: clean weights, shape ``N`` (or any shape; all inputs broadcast).
            noise: output of :meth:`draw`, same shape as ``weights``.
            sigma: drift strength σ (unitless; its meaning is the subclass's).
            max_abs: ``max |w|`` of the tensor each weight belongs to, broadcastable
                to ``weights``.

        Returns:
            Drifted weights, same shape and dtype as ``weights``. ``sigma == 0`` must
            return values equal to ``weights``.
        """

    def apply_into(self, out: Tensor, weights: Tensor, noise: Tensor, sigma: float,
                   max_abs: Tensor) -> None:
        """Write :meth:`apply`'s result into ``out`` (same shape). Subclasses may override
        with an allocation-free version; the Monte Carlo loop calls this per (sample, σ)."""
        out.copy_(self.apply(weights, noise, sigma, max_abs))

    @abc.abstractmethod
    def moments(self, weights: Tensor, sigma: float, max_abs: Tensor) -> tuple[Tensor, Tensor]:
        """Theoretical mean and variance of each drifted weight (for the contract tests).

        Args: as :meth:`apply`. Returns: ``(mean, variance)``, each shaped like ``weights``.
        """

    def perturb(self, model: nn.Module, sigma: float, generator: torch.Generator,
                params: ParamFilter = "all") -> nn.Module:
        """Return a drifted deep copy of ``model``; ``model`` itself is never modified.

        Args:
            model: the network.
            sigma: drift strength σ.
            generator: seeded generator on the model's device.
            params: which parameters drift (see :data:`ParamFilter`).
        """
        check_sigma(sigma)
        drifted = copy.deepcopy(model)
        with torch.no_grad():
            for _, p in select_parameters(drifted, params):
                noise = self.draw(p.numel(), generator, p.device, p.dtype).view_as(p)
                max_abs = p.detach().abs().max()
                p.copy_(self.apply(p.detach(), noise, sigma, max_abs))
        return drifted

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


DRIFTS: Registry[type[DriftModel]] = Registry("drift model", "Pass one of these names.")
"""Drift model name -> class; filled by :mod:`bayesft_tune.drift`'s ``__init__``."""


def drift_names() -> list[str]:
    """Names of the registered drift models, in registration order."""
    return DRIFTS.names()


def get_drift(drift: str | DriftModel, **kwargs: float) -> DriftModel:
    """Look up a drift model by name (or pass an instance through).

    Raises:
        UserInputError: if the name is not registered; the message lists the valid names.
    """
    if isinstance(drift, DriftModel):
        return drift
    return DRIFTS.get(drift)(**kwargs)


def check_sigma(sigma: float) -> float:
    """Validate a drift strength: finite and ``>= 0``."""
    s = float(sigma)
    if not (s >= 0.0 and s != float("inf")):
        raise UserInputError(f"drift strength must be a finite number >= 0; got sigma={sigma!r}. "
                             "Pass e.g. sigma=0.6.")
    return s


def select_parameters(model: nn.Module, params: ParamFilter = "all") -> list[tuple[str, nn.Parameter]]:
    """The ``(name, parameter)`` pairs of ``model`` that drift, in ``named_parameters`` order."""
    if params == "all":
        keep: Callable[[str, nn.Parameter], bool] = lambda n, p: True
    elif params == "weights":
        keep = lambda n, p: p.ndim >= 2
    elif callable(params):
        keep = params
    else:
        raise UserInputError(f"parameter filter must be 'all', 'weights' or a callable "
                             f"(name, parameter) -> bool; got {params!r}.")
    chosen = [(n, p) for n, p in model.named_parameters() if keep(n, p)]
    if not chosen:
        raise UserInputError(f"parameter filter {params!r} selects no parameter of "
                             f"{type(model).__name__}; widen the filter.")
    return chosen
