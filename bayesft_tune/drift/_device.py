"""Device models fitted to measured analog memory: IBM's PCM model and the NeuRRAM ReRAM chip.

Their level axis is time: seconds since the weights were programmed (``0``: the clean,
digital network). Weights map to differential device pairs (:mod:`._conductance`); each
device draws its own noise. The numbers are the published fits, as documented for IBM's
aihwkit (``PCMLikeNoiseModel``, ``ReRamWan2022NoiseModel``); no code of it is used here.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from bayesft_tune.drift._base import DriftModel
from bayesft_tune.drift._conductance import (gdc_factor, normal_grid, poly, rectified_moments, to_conductances,
                                             to_weights)
from bayesft_tune.errors import UserInputError

__all__ = ["PCMDrift", "ReRAMWan2022Drift"]


class _DeviceDrift(DriftModel):
    """A device model: ``g_max`` (µS) of the mapping, optional global drift compensation."""

    axis, unit = "time", "s"
    devices_noise: ClassVar[int]
    """Independent standard normals per device (a weight has two devices)."""

    def __init__(self, g_max: float, gdc: bool) -> None:
        if not (isinstance(g_max, (int, float)) and math.isfinite(g_max) and g_max > 0):
            raise UserInputError(f"{self.name} g_max (µS, the conductance of the largest weight) must be a number > 0; "
                                 f"got g_max={g_max!r}. Pass e.g. g_max=25.")
        if not isinstance(gdc, bool):
            raise UserInputError(f"{self.name} gdc (global drift compensation) must be true or false; got gdc={gdc!r}.")
        self.g_max, self.gdc = float(g_max), gdc

    def draw(self, numel: int, generator: torch.Generator, device: torch.device, dtype: torch.dtype) -> Tensor:
        """``(2·k) x N`` standard normals: ``k`` per device, ``g⁺`` first."""
        return torch.randn(2 * self.devices_noise, numel, generator=generator, device=device, dtype=dtype)

    def apply(self, weights: Tensor, noise: Tensor, sigma: float, max_abs: Tensor,
              groups: Tensor | None = None) -> Tensor:
        t = self.check_level(sigma)
        if t == 0.0:
            return weights * 1
        k = self.devices_noise
        parts = noise.unbind(-2)
        targets = to_conductances(weights, max_abs, self.g_max)
        (prog_p, now_p), (prog_m, now_m) = (self.device(g, parts[i * k:(i + 1) * k], t)
                                            for i, g in enumerate(targets))
        out = to_weights(now_p, now_m, max_abs, self.g_max)
        return out * gdc_factor(prog_p + prog_m, now_p + now_m, groups) if self.gdc else out

    def device(self, target: Tensor, noise: tuple[Tensor, ...], t: float) -> tuple[Tensor, Tensor]:
        """``(conductance right after programming, conductance at t)`` of devices with ``target``."""
        raise NotImplementedError

    def moments(self, weights: Tensor, sigma: float, max_abs: Tensor) -> tuple[Tensor, Tensor]:
        """By one-dimensional integrals over each normal (:func:`._conductance.normal_grid`);
        with GDC, the factor is taken at its expectation (a large tensor's sum concentrates)."""
        t = self.check_level(sigma)
        if t == 0.0:
            return weights.clone(), torch.zeros_like(weights)
        stats = []
        for g in to_conductances(weights, max_abs.expand_as(weights), self.g_max):
            unique, inverse = torch.unique(g, return_inverse=True)  # integrals per distinct target
            stats.append([m[inverse] for m in self._device_moments(unique, t)])
        (prog_p, m1_p, m2_p), (prog_m, m1_m, m2_m) = stats
        alpha = (prog_p + prog_m).sum() / (m1_p + m1_m).sum() if self.gdc else torch.ones((), dtype=weights.dtype)
        scale = max_abs / self.g_max
        var = (m2_p - m1_p**2) + (m2_m - m1_m**2)
        return alpha * (m1_p - m1_m) * scale, alpha**2 * var * scale**2

    def _device_moments(self, target: Tensor, t: float) -> tuple[Tensor, Tensor, Tensor]:
        """``(E[g_prog], E[g(t)], E[g(t)²])`` per device target."""
        raise NotImplementedError


class PCMDrift(_DeviceDrift):
    """IBM's statistical PCM model (Nandakumar et al., ICECS 2019; Joshi et al., Nature
    Communications 11, 2473, 2020), with the coefficients documented for aihwkit's
    ``PCMLikeNoiseModel``. Per device of target conductance ``g_T`` (µS, ``x = g_T/g_max``):

    * programming: ``g_P = clip(g_T + σ_P·z₁, 0, g_max)``, ``σ_P = (0.26348 + 1.9650x − 1.1731x²)·g_max/25`` µS
      (fitted at ``g_max`` = 25 µS);
    * drift: ``g_D = g_P·((t + t₀)/t₀)^(−ν)``, ``t₀`` = 20 s, ``ν = |μ_ν + σ_ν·z₂|`` with
      ``μ_ν = clip(−0.0155·ln x + 0.0244, 0.049, 0.1)`` and ``σ_ν = clip(−0.0125·ln x − 0.0059, 0.008, 0.045)``
      (``x`` clipped below at 1e-7);
    * accumulated 1/f read noise: ``g(t) = max(g_D + g_D·σ_R·z₃, 0)``,
      ``σ_R = min(0.0088/max((g_P/g_max)^0.65, 1e-3), 0.2)·sqrt(ln((t + t₀ + t_r)/(2·t_r)))``, ``t_r`` = 250 ns.

    Args:
        g_max: conductance (µS) of the largest weight of each tensor (default 25).
        gdc: global drift compensation per tensor (default on, as deployed PCM chips do).
    """

    name = "pcm"
    devices_noise = 3
    default_levels = (0.0, 1.0, 3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0)  # 0, 1 s, 1 h, 1 d, 30 d, 1 y
    objective_levels = (3600.0, 86400.0, 30 * 86400.0, 365 * 86400.0)
    PROG = (0.26348, 1.9650, -1.1731)
    G_REF, T0, T_READ = 25.0, 20.0, 250e-9

    def __init__(self, g_max: float = 25.0, gdc: bool = True) -> None:
        super().__init__(g_max, gdc)

    def _sigma_prog(self, g: Tensor) -> Tensor:
        return torch.clamp(poly(self.PROG, g / self.g_max), min=0) * (self.g_max / self.G_REF)

    def _nu(self, g: Tensor) -> tuple[Tensor, Tensor]:
        log_x = torch.log(torch.clamp(g / self.g_max, min=1e-7))
        return (torch.clamp(-0.0155 * log_x + 0.0244, 0.049, 0.1), torch.clamp(-0.0125 * log_x - 0.0059, 0.008, 0.045))

    def _sigma_read(self, g_prog: Tensor, t: float) -> Tensor:
        q = torch.clamp(0.0088 / torch.clamp((g_prog / self.g_max) ** 0.65, min=1e-3), max=0.2)
        return q * math.sqrt(math.log((t + self.T0 + self.T_READ) / (2 * self.T_READ)))

    def device(self, target: Tensor, noise: tuple[Tensor, ...], t: float) -> tuple[Tensor, Tensor]:
        g_prog = torch.clamp(target + self._sigma_prog(target) * noise[0], 0, self.g_max)
        mu, sd = self._nu(target)
        drifted = g_prog * ((t + self.T0) / self.T0) ** (-torch.abs(mu + sd * noise[1]))
        return g_prog, torch.clamp(drifted * (1 + self._sigma_read(g_prog, t) * noise[2]), min=0)

    def _device_moments(self, target: Tensor, t: float) -> tuple[Tensor, Tensor, Tensor]:
        z, w = normal_grid(dtype=target.dtype)
        g = target.reshape(-1, 1)
        g_prog = torch.clamp(g + self._sigma_prog(g) * z, 0, self.g_max)  # (N, nodes)
        mu, sd = self._nu(g)
        log_r = math.log((t + self.T0) / self.T0)
        factor = torch.exp(-log_r * torch.abs(mu + sd * z))
        d1, d2 = (factor * w).sum(-1, keepdim=True), (factor**2 * w).sum(-1, keepdim=True)
        s = torch.clamp(self._sigma_read(g_prog, t), min=1e-12)
        r1, r2 = rectified_moments(torch.ones_like(s), s)  # per unit drifted conductance
        shape = target.shape
        return ((g_prog * w).sum(-1).reshape(shape), (d1 * g_prog * r1 * w).sum(-1).reshape(shape),
                (d2 * g_prog**2 * r2 * w).sum(-1).reshape(shape))


class ReRAMWan2022Drift(_DeviceDrift):
    """The NeuRRAM ReRAM chip (Wan et al., Nature 608, 504-512, 2022): the deviation of a
    device's conductance from its target, fitted with a 4th-order polynomial of
    ``x = g_T/g_max`` in µS at ``g_max`` = 40 µS, measured 1 s, 1 day and 2 days after
    programming (the coefficients documented for aihwkit's ``ReRamWan2022NoiseModel``):
    ``g(t) = clip(g_T + σ_t(x)·z, 0, g_max)``, ``σ_t(x) = Σ_i c_{t,i} x^i · g_max/40``.
    Only those three times were measured: other levels are refused.

    Args:
        g_max: conductance (µS) of the largest weight of each tensor (default 40).
        gdc: global drift compensation per tensor (default off).
    """

    name = "reram_wan2022"
    devices_noise = 1
    COEFFS = {1.0: (0.348, 16.030, -43.853, 45.393, -16.815),
              86400.0: (0.701, 22.086, -50.773, 47.095, -16.458),
              172800.0: (0.782, 20.274, -43.507, 37.062, -11.934)}
    levels = (0.0, *COEFFS)
    default_levels = levels
    objective_levels = (86400.0,)
    G_REF = 40.0

    def __init__(self, g_max: float = 40.0, gdc: bool = False) -> None:
        super().__init__(g_max, gdc)

    def _sigma(self, g: Tensor, t: float) -> Tensor:
        return torch.clamp(poly(self.COEFFS[t], g / self.g_max), min=0) * (self.g_max / self.G_REF)

    def device(self, target: Tensor, noise: tuple[Tensor, ...], t: float) -> tuple[Tensor, Tensor]:
        now = torch.clamp(target + self._sigma(target, t) * noise[0], 0, self.g_max)
        return target, now

    def _device_moments(self, target: Tensor, t: float) -> tuple[Tensor, Tensor, Tensor]:
        z, w = normal_grid(dtype=target.dtype)
        g = target.reshape(-1, 1)
        now = torch.clamp(g + self._sigma(g, t) * z, 0, self.g_max)
        return target.clone(), (now * w).sum(-1).reshape(target.shape), (now**2 * w).sum(-1).reshape(target.shape)
