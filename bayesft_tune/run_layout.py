"""The files of a run directory and the variable that says where a run lives: one home for
their names (the search, the checks, the trainables and ``analysis`` import them from here)."""

from __future__ import annotations

__all__ = ["CONFIG_FILE", "LOCK_FILE", "REFERENCE_FILE", "RUN_DIR_ENV", "RUN_FILES", "RUN_TABLES"]

CONFIG_FILE = "search_config.json"
"""The search's settings, written once when it starts: the file that makes a directory resumable."""
REFERENCE_FILE = "reference.pt"
"""The ERM reference of the clean-accuracy guard."""
LOCK_FILE = "driver.lock"
"""Held by the one driver running the search (host, PID, start time); removed when it ends."""
RUN_TABLES = ("trials.parquet", "history.parquet")
"""Tables of a search run that no other output may overwrite."""
RUN_FILES = (CONFIG_FILE, *RUN_TABLES, "robustness.parquet", "selection.parquet", REFERENCE_FILE, "tuner.pkl")
"""A search's own files: a directory holding any of them (or Tune's ``experiment_state-*``, the
searcher's ``searcher-state-*``, a ``trial_*`` directory) is a run."""
RUN_DIR_ENV = "BAYESFT_RUN_DIR"
"""Where the run directory lives now; the search sets it for every worker of its Ray job (a
restored Tune experiment still carries the paths it had when it started)."""
