"""Load a run's Parquet tables and compute tidy summaries of them.

A run directory (local path or pyarrow URI such as ``file:///...``) holds
``trials.parquet`` (required), ``history.parquet`` and ``robustness.parquet``
(both optional); their columns are defined in :mod:`bayesft_tune.schema`.
Every function here takes and returns tidy pandas DataFrames.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from scipy import stats

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_dir import RunDir
from bayesft_tune.schema import (SCHEMA_VERSION, TABLES, VERSION_KEY, check_key_columns, conform,
                                 slot_columns)
from bayesft_tune.storage import resolve

from analysis.trials import best_trials, convergence

__all__ = ["Run", "accuracy_at", "auc", "best_trials", "convergence", "difference_vs",
           "load_run", "load_runs", "robustness_curves"]

OPTIONAL_TABLES = ("history", "robustness")
"""Tables a run may lack; they load as empty frames with the schema's columns."""

RUN_TABLES = ("trials", "history", "robustness")
"""The tables of a :class:`Run` (``schema.TABLES`` also defines pareto/ablation tables)."""


@dataclass(frozen=True)
class Run:
    """The three tables of one run (or of several, with a ``run`` column).

    Attributes:
        trials: one row per trial, schema ``TRIALS`` plus ``dropout_<slot>`` columns.
        history: one row per reported epoch per trial (may be empty).
        robustness: accuracy/loss statistics per method and σ (may be empty).
        source: the run directory (or directories) the tables came from.
    """

    trials: pd.DataFrame
    history: pd.DataFrame
    robustness: pd.DataFrame
    source: str = ""


def _empty(table: str) -> pd.DataFrame:
    return conform(pd.DataFrame(), table)


def _conform_known(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Type the schema's columns; keep columns the schema does not know (e.g. ``searcher``)."""
    spec = TABLES[table]
    known = [c for c in frame.columns if c in spec or (table == "trials" and c in slot_columns(frame))]
    extra = [c for c in frame.columns if c not in known]
    out = conform(frame[known], table)
    return pd.concat([out, frame[extra]], axis=1) if extra else out


def _check_version(fs: pafs.FileSystem, path: str) -> None:
    meta = pq.read_schema(path, filesystem=fs).metadata or {}
    found = meta.get(VERSION_KEY.encode())
    if found is not None and int(found) > SCHEMA_VERSION:
        raise UserInputError(
            f"{path} has table schema version {int(found)}, but this bayesft-tune reads versions "
            f"up to {SCHEMA_VERSION}; upgrade bayesft-tune (or analyse it with the version that "
            "wrote it).")


def _read(run_dir: str, table: str, required: bool) -> pd.DataFrame:
    """Read and re-type one table; raise a :class:`UserInputError` naming the file on failure."""
    fs, root = resolve(run_dir)
    path = posixpath.join(root, f"{table}.parquet")
    run = RunDir(run_dir)
    missing = fs.get_file_info(path).type == pafs.FileType.NotFound
    if missing and not run.parts(table):
        if not required:
            return _empty(table)
        raise UserInputError(
            f"a run directory must contain {table}.parquet; {path} does not exist. "
            "Pass the directory a search wrote (the one holding trials.parquet).")
    try:
        if not missing:
            _check_version(fs, path)
        frame = run.read_table(table)  # with the fragments of a search still running
    except (OSError, pa.ArrowException) as exc:
        raise UserInputError(
            f"{path} must be a readable Parquet file; reading it failed ({exc}). The file is "
            "corrupt or truncated: re-run the search or restore the file.") from exc
    check_key_columns(frame, table, path)
    return _conform_known(frame, table)


def load_run(path_or_uri: str | object) -> Run:
    """Load ``trials``, ``history`` and ``robustness`` of one run directory.

    Args:
        path_or_uri: local directory (``str`` or ``os.PathLike``) or a pyarrow URI
            (``file:///...``, ``s3://...``).

    Returns:
        A :class:`Run`; a missing ``history``/``robustness`` file gives an empty frame
        with the schema's columns.

    Raises:
        UserInputError: ``trials.parquet`` missing, or any table unreadable/corrupt
            (the message names the file).
    """
    run_dir = str(path_or_uri)
    tables = {t: _read(run_dir, t, required=t not in OPTIONAL_TABLES) for t in RUN_TABLES}
    return Run(source=run_dir, **tables)


def load_runs(paths: Sequence[str | object], names: Sequence[str] | None = None) -> Run:
    """Load several runs and stack each table with a leading ``run`` column.

    Args:
        paths: run directories or URIs.
        names: one label per run; default the directories' base names.

    Raises:
        UserInputError: no paths, ``names`` of the wrong length, or duplicate names.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise UserInputError("load_runs needs at least one run directory; got none.")
    if names is None:
        names = [posixpath.basename(p.rstrip("/\\")) or p for p in paths]
    names = [str(n) for n in names]
    if len(names) != len(paths) or len(set(names)) != len(names):
        raise UserInputError(f"names must be unique, one per path; got names={names} for "
                             f"{len(paths)} paths. Pass distinct labels, e.g. ['bo', 'random'].")
    runs = [load_run(p) for p in paths]
    stacked = {}
    for table in RUN_TABLES:
        frames = [getattr(r, table).assign(run=n) for r, n in zip(runs, names)]
        frame = pd.concat(frames, ignore_index=True).astype({"run": "string"})
        stacked[table] = frame[["run", *[c for c in frame.columns if c != "run"]]]
    return Run(source=", ".join(paths), **stacked)


def _keys(frame: pd.DataFrame) -> list[str]:
    return (["run"] if "run" in frame.columns else []) + ["method"]


def _check_unique(robustness: pd.DataFrame) -> list[str]:
    """The curve keys (``[run,] method``); raise if a key and σ have several rows."""
    keys = _keys(robustness)
    dup = robustness.duplicated([*keys, "sigma"], keep=False)
    if dup.any():
        seen = robustness.loc[dup, [*keys, "sigma"]].drop_duplicates().head(3).to_dict("records")
        raise UserInputError(f"robustness must have one row per {keys} and sigma; got duplicates "
                             f"such as {seen}. Filter the table to one drift model and split.")
    return keys


def robustness_curves(robustness: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Tidy curves: one row per method (and run) and σ, sorted by σ.

    Columns: ``[run,] method, sigma, samples, <metric>_mean, <metric>_sem,
    <metric>_ci_low, <metric>_ci_high`` - the table's own statistics (Student-t 95 % CI
    from :func:`bayesft_tune.drift_summary.summarize_drift`), not recomputed.

    Raises:
        UserInputError: unknown metric, or several rows for one method and σ (e.g.
            two drift models or splits mixed in one table: filter first).
    """
    if metric not in ("accuracy", "loss"):
        raise UserInputError(f"metric must be 'accuracy' or 'loss'; got {metric!r}.")
    keys = _check_unique(robustness)
    stats_cols = [f"{metric}_{s}" for s in ("mean", "sem", "ci_low", "ci_high")]
    cols = [*keys, "sigma", "samples", *stats_cols]
    return robustness[cols].sort_values([*keys, "sigma"]).reset_index(drop=True)


def _curve_auc(sigma: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    ok = ~np.isnan(y)
    sigma, y = sigma[ok], y[ok]
    if len(sigma) == 0 or sigma.min() > lo + 1e-9 or sigma.max() < hi - 1e-9:
        return float("nan")
    inside = (sigma > lo) & (sigma < hi)
    xs = np.concatenate([[lo], sigma[inside], [hi]])
    ys = np.interp(xs, sigma, y)
    return float(np.trapezoid(ys, xs) / (hi - lo))


def auc(robustness: pd.DataFrame, sigma_range: tuple[float, float] = (0.0, 1.5),
        metric: str = "accuracy_mean") -> pd.DataFrame:
    """Normalised area under each method's curve: ``∫ metric dσ / (σ_hi - σ_lo)``.

    Trapezoid rule over the measured σ, with the curve linearly interpolated at the
    range ends; a flat curve at accuracy ``a`` has AUC ``a``. A method whose grid
    does not cover ``sigma_range`` gets ``NaN``.

    Returns:
        Columns ``[run,] method, auc, sigma_lo, sigma_hi, n_points``.

    Raises:
        UserInputError: empty/reversed range or a metric column the table lacks.
    """
    lo, hi = (float(v) for v in sigma_range)
    if not hi > lo >= 0:
        raise UserInputError(f"sigma_range must be (lo, hi) with 0 <= lo < hi; got {sigma_range!r}.")
    if metric not in robustness.columns:
        raise UserInputError(f"metric must be a robustness column such as 'accuracy_mean'; "
                             f"got {metric!r}.")
    keys, rows = _check_unique(robustness), []
    for key, g in robustness.sort_values("sigma").groupby(keys, sort=True):
        s, y = g["sigma"].to_numpy(float), g[metric].to_numpy(float)
        n = int(((s >= lo - 1e-9) & (s <= hi + 1e-9)).sum())
        rows.append((*key, _curve_auc(s, y, lo, hi), lo, hi, n))
    return pd.DataFrame(rows, columns=[*keys, "auc", "sigma_lo", "sigma_hi", "n_points"])


def accuracy_at(robustness: pd.DataFrame, sigmas: Iterable[float]) -> pd.DataFrame:
    """Accuracy mean and 95 % CI of each method at the requested σ.

    σ are matched to the measured grid to within 1e-9; a σ a method was not
    evaluated at gives a row of ``NaN`` (no interpolation).

    Returns:
        Columns ``[run,] method, sigma, accuracy_mean, accuracy_sem, accuracy_ci_low,
        accuracy_ci_high``, one row per method and requested σ.
    """
    wanted = pd.DataFrame({"sigma": [float(s) for s in sigmas]})
    curves = robustness_curves(robustness).drop(columns="samples")
    keys = _keys(robustness)
    grid = curves[keys].drop_duplicates().merge(wanted, how="cross")
    curves = curves.assign(sigma=curves["sigma"].round(9))
    grid = grid.assign(sigma=grid["sigma"].round(9))
    return grid.merge(curves, on=[*keys, "sigma"], how="left").reset_index(drop=True)


def _half_width(sem_a: pd.Series, sem_b: pd.Series, n_a: pd.Series, n_b: pd.Series,
                confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch-Satterthwaite half-width where both sample counts are >= 2, else normal."""
    se = np.sqrt(sem_a.to_numpy(float) ** 2 + sem_b.to_numpy(float) ** 2)
    na, nb = n_a.astype("float64").to_numpy(), n_b.astype("float64").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = se**4 / (sem_a.to_numpy(float) ** 4 / (na - 1) + sem_b.to_numpy(float) ** 4 / (nb - 1))
    welch = (na >= 2) & (nb >= 2) & np.isfinite(dof) & (se > 0)
    q = np.where(welch, stats.t.ppf(0.5 + confidence / 2, np.where(welch, dof, 1.0)),
                 stats.norm.ppf(0.5 + confidence / 2))
    return se, q * se, np.where(welch, dof, np.inf)


def difference_vs(robustness: pd.DataFrame, baseline: str = "erm",
                  confidence: float = 0.95) -> pd.DataFrame:
    """Accuracy difference of every other method vs ``baseline`` at each shared σ.

    ``diff = acc_method - acc_baseline``; standard error ``sqrt(sem_m² + sem_b²)``,
    treating the two Monte Carlo estimates as independent. The interval is
    Welch's t with Welch-Satterthwaite degrees of freedom (from the ``samples``
    columns) when both methods have ``samples >= 2``; otherwise the normal
    quantile (1.96 at 95 %). Evaluation with a shared seed draws the same noise for
    every method, which correlates them positively, so this interval is conservative.

    Returns:
        Columns ``[run,] method, sigma, accuracy_mean, baseline_mean, diff, diff_se,
        dof, ci_low, ci_high``.

    Raises:
        UserInputError: ``baseline`` is not a method of the table, or bad ``confidence``.
    """
    if not 0 < confidence < 1:
        raise UserInputError(f"confidence must be in (0, 1); got {confidence!r}.")
    curves = robustness_curves(robustness)
    if baseline not in set(curves["method"]):
        raise UserInputError(f"baseline must be a method in the robustness table "
                             f"{sorted(set(curves['method']))}; got {baseline!r}.")
    on = [*(["run"] if "run" in curves.columns else []), "sigma"]
    base = curves[curves["method"] == baseline]
    both = curves[curves["method"] != baseline].merge(base.drop(columns="method"), on=on,
                                                      suffixes=("", "_b"))
    se, half, dof = _half_width(both["accuracy_sem"], both["accuracy_sem_b"],
                                both["samples"], both["samples_b"], confidence)
    diff = both["accuracy_mean"] - both["accuracy_mean_b"]
    out = both[[*_keys(curves), "sigma", "accuracy_mean"]].assign(
        baseline_mean=both["accuracy_mean_b"], diff=diff, diff_se=se, dof=dof,
        ci_low=diff - half, ci_high=diff + half)
    return out.sort_values([*_keys(curves), "sigma"]).reset_index(drop=True)
