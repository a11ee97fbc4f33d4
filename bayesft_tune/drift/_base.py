"""Base class and registry of weight-drift models."""

from __future__ import annotations

import abc
import copy
import inspect
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
    axis: ClassVar[str] = "sigma"
    """What the level means: ``sigma`` (a strength), ``p`` (a fault fraction) or ``time``."""
    unit: ClassVar[str] = ""
    """The level's unit (``s`` for time)."""
    levels: ClassVar[tuple[float, ...] | None] = None
    """The only levels the model knows (measured times), or None: any level >= 0."""
    default_levels: ClassVar[tuple[float, ...]] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.5)
    """The grid of a robustness table (0 first: the clean network)."""
    objective_levels: ClassVar[tuple[float, ...]] = (0.3, 0.6, 0.9, 1.2, 1.5)
    """The levels a search's objective averages over by default."""

    def check_level(self, level: float) -> float:
        """``level`` as a float, if the model accepts it.

        Raises:
            UserInputError: not finite, below 0, or not one of :attr:`levels`.
        """
        if self.axis == "sigma":
            return check_sigma(level)
        value = float(level)
        if not (value >= 0.0 and value != float("inf")):
            raise UserInputError(f"{self.name} level ({self.axis}) must be a finite number >= 0; got {level!r}.")
        if self.levels is not None and value not in self.levels:
            raise UserInputError(f"{self.name} knows only the {self.axis} levels {list(self.levels)} {self.unit} "
                                 f"(measured); got {level!r}. Pass one of those.")
        return value

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
            Noise of shape ``N``, or ``K x N`` for a model with ``K`` independent draws per
            weight (the device models).
        """

    @abc.abstractmethod
    def apply(self, weights: Tensor, noise: Tensor, sigma: float, max_abs: Tensor,
              groups: Tensor | None = None) -> Tensor:
        """Drift clean weights.

        Args:
            weights: clean weights, shape ``N`` (or ``S x N``; all inputs broadcast).
            noise: output of :meth:`draw` (``N`` or ``K x N``; ``S`` of them stacked first).
            sigma: the level: drift strength σ, fault fraction or seconds (see :attr:`axis`).
            max_abs: ``max |w|`` of the tensor each weight belongs to, broadcastable
                to ``weights``.
            groups: the tensor (crossbar) index of each weight, shape ``N``, for models that
                act per tensor (global drift compensation); None: one tensor.

        Returns:
            Drifted weights, same shape and dtype as ``weights``. ``sigma == 0`` must
            return values equal to ``weights``.
        """

    def apply_into(self, out: Tensor, weights: Tensor, noise: Tensor, sigma: float,
                   max_abs: Tensor, groups: Tensor | None = None) -> None:
        """Write :meth:`apply`'s result into ``out`` (same shape). Subclasses may override
        with an allocation-free version; the Monte Carlo loop calls this per (sample, σ)."""
        out.copy_(self.apply(weights, noise, sigma, max_abs, groups))

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
        self.check_level(sigma)
        drifted = copy.deepcopy(model)
        with torch.no_grad():
            for _, p in select_parameters(drifted, params):
                p.copy_(self.drift_tensor(p.detach(), sigma, generator))
        return drifted

    def drift_tensor(self, tensor: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
        """One fresh draw of drift applied to one tensor (one crossbar), same shape."""
        noise = self.draw(tensor.numel(), generator, tensor.device, tensor.dtype)
        flat = tensor.reshape(-1)
        return self.apply(flat, noise, sigma, flat.abs().max()).view_as(tensor)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


DRIFTS: Registry[type[DriftModel]] = Registry("drift model", "Pass one of these names.")
"""Drift model name -> class; filled by :mod:`bayesft_tune.drift`'s ``__init__``."""


def drift_names() -> list[str]:
    """Names of the registered drift models, in registration order."""
    return DRIFTS.names()


def get_drift(drift: str | DriftModel, **kwargs: float) -> DriftModel:
    """Look up a drift model by name or spec (or pass an instance through).

    A spec is ``name`` or ``name:key=value,...`` with the model's own parameters, e.g.
    ``pcm:gdc=false`` (see :func:`drift_spec`).

    Raises:
        UserInputError: if the name is not registered (the message lists the valid names),
            or a parameter is not the model's.
    """
    if isinstance(drift, DriftModel):
        return drift
    name, _, params = str(drift).partition(":")
    options = {**{k.strip(): _value(v) for k, _, v in (p.partition("=") for p in params.split(",") if p.strip())},
               **kwargs}
    cls = DRIFTS.get(name)
    known = _parameters(cls)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UserInputError(f"drift model {name!r} has no parameter {unknown}; its parameters are {known}. "
                             f"Write it as {name}:key=value,... with those keys.")
    return cls(**options)


def drift_spec(drift: str | DriftModel) -> str:
    """The canonical spec of a drift model: its name, then every parameter it has, so a run
    records the choices it made (``pcm`` -> ``pcm:g_max=25,gdc=true``)."""
    model = get_drift(drift)
    known = _parameters(type(model))
    if not known:
        return model.name
    return f"{model.name}:" + ",".join(f"{k}={_text(getattr(model, k))}" for k in known)


def _parameters(cls: type) -> list[str]:
    """A drift model's own constructor parameters, in order."""
    if cls.__init__ is object.__init__:
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self" and p.kind in kinds]


def _value(text: str) -> bool | float | str:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        return float(t)
    except ValueError:
        return t


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


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
