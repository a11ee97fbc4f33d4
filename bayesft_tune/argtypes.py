"""argparse value types shared by the commands (standard library only: the CLI starts fast)."""

from __future__ import annotations

import argparse

__all__ = ["floats", "names"]


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
