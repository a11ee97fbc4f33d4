"""argparse value types shared by the commands (standard library only: the CLI starts fast)."""

from __future__ import annotations

import argparse

__all__ = ["TIME_UNITS", "floats", "format_level", "level", "levels", "names"]

TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365 * 86400.0}
"""Suffixes of a time level (seconds since programming): ``1s``, ``30min``, ``1h``, ``1d``, ``1w``, ``1y``."""


def floats(text: str) -> tuple[float, ...]:
    """One or more comma-separated numbers, e.g. ``0.5,0.3``."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 0.5,0.3; got {text!r}") from err
    if not values:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated numbers, e.g. 0.5,0.3; "
                                         f"got {text!r}")
    return values


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, e.g. ``relu,gelu``."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def level(text: str) -> float:
    """One level: a number (σ, a fault fraction, seconds), or a time with a unit, e.g. ``1d``."""
    value = text.strip()
    for unit in sorted(TIME_UNITS, key=len, reverse=True):
        if value.endswith(unit) and value[: -len(unit)].strip():
            number, scale = value[: -len(unit)], TIME_UNITS[unit]
            break
    else:
        number, scale = value, 1.0
    try:
        return float(number) * scale
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a number or a time such as 1s, 1h, 1d, 1y; got {text!r}") from err


def levels(text: str) -> tuple[float, ...]:
    """Comma-separated levels on the drift model's axis: ``0.3,0.9`` (σ) or ``1s,1h,1d,1y`` (time)."""
    values = tuple(level(v) for v in text.split(",") if v.strip())
    if not values:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated levels, e.g. 0.3,0.9 or 1h,1d,1y; "
                                         f"got {text!r}")
    return values


def format_level(value: float, unit: str = "") -> str:
    """A level as people say it: ``0.9`` (σ), ``1 h``, ``30 d``, ``1 y`` (seconds, unit ``s``)."""
    if unit != "s" or value == 0:
        return f"{value:g}"
    for name in ("y", "d", "h", "min"):
        count = value / TIME_UNITS[name]
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{round(count)} {name}"
    return f"{value:g} s"
