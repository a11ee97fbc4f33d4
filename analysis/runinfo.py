"""What a run directory says besides its tables: the search's saved ``search_config.json``."""

from __future__ import annotations

import json
import posixpath
from typing import Any

import pyarrow.fs as pafs

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_layout import CONFIG_FILE
from bayesft_tune.storage import resolve

__all__ = ["CONFIG_FILE", "read_search_config", "search_bounds", "search_total"]

"""Settings a search saves in its run directory (``bayesft_tune.search.runner.STATE_FILE``)."""


def read_search_config(run_dir: str) -> dict[str, Any] | None:
    """The run's ``search_config.json`` as a dict, or ``None`` if the run has none.

    Raises:
        UserInputError: the file exists but is not a JSON object.
    """
    fs, root = resolve(str(run_dir))
    path = posixpath.join(root, CONFIG_FILE)
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    try:
        with fs.open_input_stream(path) as fh:
            values = json.loads(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserInputError(f"{path} must be the JSON a search saved; reading it failed ({exc}). "
                             "Restore the file or delete it (analysis works without it).") from exc
    if not isinstance(values, dict):
        raise UserInputError(f"{path} must hold a JSON object of search settings; got "
                             f"{type(values).__name__}. Restore the file or delete it.")
    return values


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
