"""Column names and types of the Parquet tables a search writes. Single source of truth.

Three tables live in a run directory:

* ``trials.parquet`` - one row per trial (:data:`TRIALS`), plus one ``dropout_<slot>``
  float64 column per dropout slot (:data:`SLOT_PREFIX`) and one ``width_<i>`` Int64
  column per hidden width of the trial's network (:data:`WIDTH_PREFIX`).
* ``history.parquet`` - one row per reported epoch per trial (:data:`HISTORY`).
* ``robustness.parquet`` - accuracy/loss statistics over the σ grid per method
  (:data:`ROBUSTNESS`).
* ``selection.parquet`` - the re-selection of the returned network among the top
  trials (:data:`SELECTION`).

Each file carries ``SCHEMA_VERSION`` in its Parquet key-value metadata under
:data:`VERSION_KEY`. Bump the version whenever a column is renamed, retyped or removed.
Version 2 added the objective's name and direction, the data seed and the knob columns;
version 3 the robustness level's axis and unit (``sigma`` holds the level: σ, a fault
fraction, or seconds since programming for the device models). Version-1 and -2 tables
still read (missing columns are empty; an empty axis is σ; a version-1 objective is the
drifted loss, minimised).
"""

from __future__ import annotations

import pandas as pd

from bayesft_tune.errors import UserInputError

__all__ = ["ABLATION", "ABLATION_TESTS", "COMPARE_TESTS", "HISTORY", "PARETO", "ROBUSTNESS", "SCHEMA_VERSION",
           "SELECTION", "SLOT_PREFIX", "STATUSES", "TABLES", "TRIALS", "TUNING", "VERSION_KEY", "WIDTH_PREFIX",
           "KEY_COLUMNS", "check_key_columns", "conform", "slot_columns", "width_columns"]

SCHEMA_VERSION = 3
VERSION_KEY = "bayesft_tune.schema_version"
SLOT_PREFIX = "dropout_"
WIDTH_PREFIX = "width_"
STATUSES = ("completed", "failed", "stopped_early", "running", "pending")
KEY_COLUMNS = {"trials": ("trial_id", "status"), "history": ("trial_id", "epoch"),
               "robustness": ("method", "sigma"), "selection": ("trial_id", "chosen")}
"""Columns every schema version of a run table has: a file without them is not that table."""
"""Final status of a trial in ``trials.parquet``."""

# column -> pandas dtype ("string" and nullable "Int64" keep missing values typed)
TRIALS: dict[str, str] = {
    "trial_id": "string",          # Ray Tune trial id
    "trial_index": "Int64",        # Ax trial index (missing if the searcher never saw it)
    "status": "string",            # one of STATUSES
    "task": "string",              # trainable/task name, e.g. "mnist_mlp"
    "objective_name": "string",    # "drifted_loss" (nats, at target_sigma) or "grid_accuracy" (fraction)
    "objective_direction": "string",  # "min" or "max": which way is better
    "objective_mean": "float64",   # the objective on the validation split, mean over T draws
    "objective_sem": "float64",    # its standard error over the T draws
    "drifted_accuracy": "float64",  # mean accuracy at target_sigma (fraction)
    "drifted_accuracy_sem": "float64",
    "clean_accuracy": "float64",   # validation accuracy without drift (fraction)
    "clean_loss": "float64",       # validation loss without drift (nats)
    "train_loss": "float64",       # last epoch's mean training loss (nats)
    "epochs": "Int64",             # epochs run (fewer than budget if stopped early)
    "wall_time_s": "float64",      # seconds from trial start to its last report
    "target_sigma": "float64",     # σ of the objective
    "samples": "Int64",            # Monte Carlo draws T
    "seed": "Int64",               # the run seed (training and drift draws use streams derived from it)
    "data_seed": "Int64",          # seed of the train/val/test split
    "error": "string",             # error message if status == "failed"
    "noise_injection": "float64",  # σ_train of drifted-loss training (0: clean loss)
    "activation": "string",        # activation of the trial's network (missing: the model's default)
    "norm": "string",              # normalisation of the trial's network (missing: the model's default)
    "lr": "float64",               # Adam step size
    "weight_decay": "float64",     # L2 penalty
    "parameter_count": "Int64",    # parameters of the trial's network
    "parameters": "string",        # JSON object of the parameters Ax proposed (e.g. width ratios)
    "warm_start_from": "string",   # mode warm_start: trial whose weights this trial started from ("" none)
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
    "objective_mean": "float64",   # the objective at this epoch (missing where not evaluated)
    "objective_sem": "float64",
    "drift_evaluated": "boolean",  # this epoch computed the MC drifted metrics (eval_epochs)
    "time_s": "float64",           # seconds since the trial started
}

SELECTION: dict[str, str] = {      # the returned network: top trials re-scored with fresh draws
    "trial_id": "string",
    "observed_rank": "Int64",      # 0 = best observed objective
    "observed": "float64",         # objective the search saw (selection draws)
    "reselected": "float64",       # objective re-measured on validation with fresh draws, final T
    "reselected_sem": "float64",
    "clean_accuracy": "float64",   # clean validation accuracy
    "feasible": "boolean",         # meets the clean-accuracy guard
    "chosen": "boolean",           # the network the search returns
}

COMPARE_TESTS: dict[str, str] = {  # bayesft-tune compare: paired differences vs the reference method
    "method": "string",
    "reference": "string",         # method every difference is taken against (e.g. "bayesft")
    "metric": "string",            # "auc", "clean" or "acc@<σ>"
    "n": "Int64",                  # paired seeds
    "mean": "float64",             # the method's mean over seeds
    "reference_mean": "float64",
    "diff": "float64",             # mean of per-seed (method - reference)
    "ci_low": "float64",           # 95 % t-interval of the mean difference
    "ci_high": "float64",
    "t_p_value": "float64",        # paired t-test
    "wilcoxon_p_value": "float64",  # Wilcoxon signed-rank test (exact for small n)
    "holm_p_value": "float64",     # t_p_value, Holm-adjusted over the methods compared on this metric
    "significant": "boolean",      # holm_p_value < 0.05 and the CI excludes 0
}

TUNING: dict[str, str] = {         # bayesft-tune compare: the knob each tuned baseline chose, per seed
    "method": "string",            # e.g. "noise_injection_tuned"
    "seed_label": "string",        # "seed<k>", as the robustness rows' trial_id
    "knob": "string",              # the MethodConfig field tuned (or "rate")
    "value": "float64",            # the chosen value
    "validation_objective": "float64",  # its objective on the validation split (selection draws)
    "trainings": "Int64",          # candidates trained (the tuning budget)
}

ROBUSTNESS: dict[str, str] = {
    "method": "string",            # "bayesft", "erm", ...
    "trial_id": "string",          # source trial, if any
    "split": "string",             # evaluation split, "test"
    "drift": "string",             # drift model name
    "data_seed": "Int64",          # seed of the train/val/test split the network was trained and scored on
    "sigma": "float64",            # the level on the drift model's axis (σ, p, or seconds since programming)
    "level_axis": "string",        # "sigma", "p" or "time" (empty in version-2 tables: "sigma")
    "level_unit": "string",        # "" or "s"
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
                                     "selection": SELECTION, "pareto": PARETO, "ablation": ABLATION,
                                     "ablation_tests": ABLATION_TESTS, "compare_tests": COMPARE_TESTS,
                                     "tuning": TUNING}


def slot_columns(frame: pd.DataFrame) -> list[str]:
    """The ``dropout_<slot>`` columns of a trials table, in order."""
    return [c for c in frame.columns if c.startswith(SLOT_PREFIX)]


def width_columns(frame: pd.DataFrame) -> list[str]:
    """The ``width_<i>`` columns of a trials table, in order."""
    return sorted((c for c in frame.columns if c.startswith(WIDTH_PREFIX) and c[len(WIDTH_PREFIX):].isdigit()),
                  key=lambda c: int(c[len(WIDTH_PREFIX):]))


def conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Order and type ``frame``'s columns as the schema of ``table`` says.

    Missing schema columns are added empty; for ``trials``, ``dropout_*`` columns
    are kept (float64) after the fixed columns.

    Raises:
        UserInputError: unknown table, columns the schema does not define, or a column
            whose values do not convert to its type.
    """
    if table not in TABLES:
        raise UserInputError(f"unknown table {table!r}; tables are {sorted(TABLES)}.")
    spec = dict(TABLES[table])
    if table == "trials":
        spec.update({c: "float64" for c in slot_columns(frame)})
        spec.update({c: "Int64" for c in width_columns(frame)})
    extra = sorted(set(frame.columns) - set(spec))
    if extra:
        raise UserInputError(f"columns {extra} are not in the {table} schema "
                             f"(version {SCHEMA_VERSION}); add them to bayesft_tune/schema.py.")
    out = frame.reindex(columns=list(spec))
    try:
        return out.astype(spec)
    except (ValueError, TypeError) as err:
        raise _type_error(out, spec, table) from err


def _type_error(frame: pd.DataFrame, spec: dict[str, str], table: str) -> UserInputError:
    """The error naming the first column of ``frame`` whose values do not convert to ``spec``'s type."""
    for column, dtype in spec.items():
        try:
            frame[column].astype(dtype)
        except (ValueError, TypeError) as err:
            return UserInputError(f"column {column!r} of a {table} table must hold {dtype} values; got "
                                  f"{frame[column].head(3).tolist()} ({err}). Restore the file, or rebuild a "
                                  "run's tables with `bayesft-tune repair RUN`.")
    return UserInputError(f"a {table} table's columns do not convert to the schema's types; restore the file.")


def check_key_columns(frame: pd.DataFrame, table: str, where: str) -> None:
    """Refuse a ``table`` frame without the columns every schema version has (:data:`KEY_COLUMNS`).

    Raises:
        UserInputError: naming ``where`` (the file), the missing columns and the fix.
    """
    missing = [c for c in KEY_COLUMNS.get(table, ()) if c not in frame.columns]
    if missing:
        raise UserInputError(f"{where} is not a {table} table: it lacks the columns {missing} (it has "
                             f"{list(frame.columns)[:8]}). Pass a run directory a search wrote, or rebuild "
                             "its tables with `bayesft-tune repair RUN`.")
