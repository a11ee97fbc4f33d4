"""What a run directory says besides its tables: the search's saved ``search_config.json``."""

from __future__ import annotations

from typing import Any

from bayesft_tune.run_dir import RunDir

__all__ = ["read_search_config", "search_bounds", "search_total"]


def read_search_config(run_dir: str) -> dict[str, Any] | None:
    """The run's manifest (``search_config.json``) as a dict, or ``None`` if the run has none.

    Raises:
        UserInputError: the file exists but is not a JSON object.
    """
    return RunDir(str(run_dir)).manifest()


def search_bounds(config: dict[str, Any] | None) -> tuple[float, float] | None:
    """The dropout-rate bounds ``(low, high)`` of a saved config, or ``None`` if absent/invalid."""
    bounds = (config or {}).get("bounds")
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if 0.0 <= lo < hi <= 1.0 else None


def search_total(config: dict[str, Any] | None) -> int | None:
    """The number of trials the search was asked for, or ``None`` if unknown."""
    total = (config or {}).get("trials")
    return total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else None
