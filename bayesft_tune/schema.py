"""Column names and types of the Parquet tables a search writes. Single source of truth.

Three tables live in a run directory:

* ``trials.parquet`` - one row per trial (:data:`TRIALS`), plus one ``dropout_<slot>``
  float64 column per dropout slot (:data:`SLOT_PREFIX`).
* ``history.parquet`` - one row per reported epoch per trial (:data:`HISTORY`).
* ``robustness.parquet`` - accuracy/loss statistics over the σ grid per method
  (:data:`ROBUSTNESS`).

Each file carries ``SCHEMA_VERSION`` in its Parquet key-value metadata under
:data:`VERSION_KEY`. Bump the version whenever a column is renamed, retyped or removed.
"""

from __future__ import annotations

import pandas as pd

from bayesft_tune.errors import UserInputError

__all__ = ["HISTORY", "ROBUSTNESS", "SCHEMA_VERSION", "SLOT_PREFIX", "STATUSES", "TABLES",
           "TRIALS", "VERSION_KEY", "conform", "slot_columns"]

SCHEMA_VERSION = 1
VERSION_KEY = "bayesft_tune.schema_version"
SLOT_PREFIX = "dropout_"
STATUSES = ("completed", "failed", "stopped_early", "running", "pending")
"""Final status of a trial in ``trials.parquet``."""

# column -> pandas dtype ("string" and nullable "Int64" keep missing values typed)
TRIALS: dict[str, str] = {
    "trial_id": "string",          # Ray Tune trial id
    "trial_index": "Int64",        # Ax trial index (missing if the searcher never saw it)
    "status": "string",            # one of STATUSES
    "task": "string",              # trainable/task name, e.g. "mnist_mlp"
    "objective_mean": "float64",   # MC drifted loss at target_sigma (nats), mean over T
    "objective_sem": "float64",    # its standard error
    "drifted_accuracy": "float64",  # mean accuracy at target_sigma (fraction)
    "drifted_accuracy_sem": "float64",
    "clean_accuracy": "float64",   # validation accuracy without drift (fraction)
    "clean_loss": "float64",       # validation loss without drift (nats)
    "train_loss": "float64",       # last epoch's mean training loss (nats)
    "epochs": "Int64",             # epochs run (fewer than budget if stopped early)
    "wall_time_s": "float64",      # seconds from trial start to its last report
    "target_sigma": "float64",     # σ of the objective
    "samples": "Int64",            # Monte Carlo draws T
    "seed": "Int64",               # seed of the trial's training and drift draws
    "error": "string",             # error message if status == "failed"
}

HISTORY: dict[str, str] = {
    "trial_id": "string",
    "epoch": "Int64",              # 1-based
    "train_loss": "float64",
    "clean_loss": "float64",
    "clean_accuracy": "float64",
    "drifted_loss": "float64",     # = the objective at this epoch
    "drifted_loss_sem": "float64",
    "drifted_accuracy": "float64",
    "drifted_accuracy_sem": "float64",
    "time_s": "float64",           # seconds since the trial started
}

ROBUSTNESS: dict[str, str] = {
    "method": "string",            # "bayesft", "erm", ...
    "trial_id": "string",          # source trial, if any
    "split": "string",             # evaluation split, "test"
    "drift": "string",             # drift model name
    "sigma": "float64",
    "samples": "Int64",
    **{f"{m}_{s}": "float64" for m in ("accuracy", "loss")
       for s in ("mean", "std", "sem", "ci_low", "ci_high")},
}

TABLES: dict[str, dict[str, str]] = {"trials": TRIALS, "history": HISTORY, "robustness": ROBUSTNESS}


def slot_columns(frame: pd.DataFrame) -> list[str]:
    """The ``dropout_<slot>`` columns of a trials table, in order."""
    return [c for c in frame.columns if c.startswith(SLOT_PREFIX)]


def conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Order and type ``frame``'s columns as the schema of ``table`` says.

    Missing schema columns are added empty; for ``trials``, ``dropout_*`` columns
    are kept (float64) after the fixed columns.

    Raises:
        UserInputError: unknown table, or columns the schema does not define.
    """
    if table not in TABLES:
        raise UserInputError(f"unknown table {table!r}; tables are {sorted(TABLES)}.")
    spec = dict(TABLES[table])
    if table == "trials":
        spec.update({c: "float64" for c in slot_columns(frame)})
    extra = sorted(set(frame.columns) - set(spec))
    if extra:
        raise UserInputError(f"columns {extra} are not in the {table} schema "
                             f"(version {SCHEMA_VERSION}); add them to bayesft_tune/schema.py.")
    out = frame.reindex(columns=list(spec))
    return out.astype(spec)
