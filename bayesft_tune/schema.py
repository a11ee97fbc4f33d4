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

__all__ = ["ABLATION", "ABLATION_TESTS", "HISTORY", "PARETO", "ROBUSTNESS", "SCHEMA_VERSION",
           "SLOT_PREFIX", "STATUSES", "TABLES",
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
    "noise_injection": "float64",  # searched σ_train of noise injection (search_noise_injection), else missing
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

PARETO: dict[str, str] = {         # multi_objective searches: Ax's observed Pareto front
    "trial_id": "string",
    "trial_index": "Int64",        # Ax trial index
    "arm_name": "string",
    "drifted_loss_mean": "float64",  # MC drifted validation loss at target_sigma (nats)
    "drifted_loss_sem": "float64",   # sqrt of the variance Ax reports
    "clean_accuracy_mean": "float64",  # clean validation accuracy (fraction)
    "clean_accuracy_sem": "float64",
    "parameters": "string",        # JSON object of the trial's searched parameters
}

ABLATION: dict[str, str] = {       # bayesft-tune ablation: one row per (factor, variant, seed, σ)
    "factor": "string",            # "dropout", "normalization", "depth", "activation", "reference"
    "variant": "string",           # e.g. "alpha_dropout_0.3", "batch", "depth_5", "gelu"
    "seed": "Int64",
    "trial_id": "string",
    "sigma": "float64",
    "samples": "Int64",            # Monte Carlo draws T
    "accuracy_mean": "float64",    # test accuracy under drift, mean over T (fraction)
    "accuracy_sem": "float64",
    "loss_mean": "float64",        # test cross-entropy under drift, mean over T (nats)
    "loss_sem": "float64",
    "auc": "float64",              # normalised area under accuracy(σ) over the grid (same per row)
}

ABLATION_TESTS: dict[str, str] = {  # Welch's t-test of each variant vs the reference, across seeds
    "factor": "string",
    "variant": "string",
    "metric": "string",            # "auc" or "accuracy@<σ>"
    "mean": "float64",
    "reference_mean": "float64",
    "diff": "float64",             # mean - reference_mean
    "t_stat": "float64",
    "p_value": "float64",
    "significant": "boolean",      # p_value < alpha (the paper's (*))
    "n": "Int64",                  # seeds of the variant
}

TABLES: dict[str, dict[str, str]] = {"trials": TRIALS, "history": HISTORY, "robustness": ROBUSTNESS,
                                     "pareto": PARETO, "ablation": ABLATION,
                                     "ablation_tests": ABLATION_TESTS}


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
