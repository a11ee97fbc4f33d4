"""Small fabricated search runs (trials, history and robustness tables with known values) for
the tests of ``analysis`` and of the commands that read runs (report, watch, report.html)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.image import imread
from scipy import stats

from bayesft_tune.schema import SCHEMA_VERSION, VERSION_KEY
from bayesft_tune.storage import write_table

SIGMAS = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5]
ACC = {"bayesft": [0.95, 0.94, 0.92, 0.88, 0.80, 0.70],
       "erm": [0.96, 0.90, 0.80, 0.65, 0.50, 0.40]}
SEM = {"bayesft": 0.01, "erm": 0.02}
T = 16
# trial_index -> (status, objective); index 6 is still running and must be ignored
TRIAL_SPEC = [("completed", 0.9), ("completed", 0.7), ("completed", 0.8), ("completed", 0.5),
              ("failed", float("nan")), ("completed", 0.6), ("running", 0.1)]


def fabricate_trials(offset: float = 0.0) -> pd.DataFrame:
    """Seven trials with two dropout slots (fc1, fc2) and known objectives."""
    rows = [{"trial_id": f"t{i}", "trial_index": i, "status": st, "task": "moons_mlp",
             "objective_mean": obj + offset, "objective_sem": 0.01, "drifted_accuracy": 1 - obj / 2,
             "clean_accuracy": 0.97, "epochs": 2, "target_sigma": 0.6, "samples": T, "seed": i,
             "error": "boom" if st == "failed" else None,
             "dropout_fc1": 0.05 * i, "dropout_fc2": 0.5 - 0.05 * i}
            for i, (st, obj) in enumerate(TRIAL_SPEC)]
    return pd.DataFrame(rows)


def fabricate_robustness(samples: int = T) -> pd.DataFrame:
    """bayesft and erm over σ 0..1.5 with known means and SEMs (Student-t CI)."""
    q = stats.t.ppf(0.975, samples - 1) if samples > 1 else 0.0
    rows = []
    for method, accs in ACC.items():
        for s, a in zip(SIGMAS, accs):
            sem = 0.0 if s == 0 else SEM[method]
            rows.append({"method": method, "trial_id": "t3" if method == "bayesft" else None,
                         "split": "test", "drift": "lognormal", "sigma": s, "samples": samples,
                         "accuracy_mean": a, "accuracy_sem": sem, "accuracy_std": sem * math.sqrt(samples),
                         "accuracy_ci_low": a - q * sem, "accuracy_ci_high": a + q * sem,
                         "loss_mean": 1 - a})
    return pd.DataFrame(rows)


def write_raw(frame: pd.DataFrame, run_dir: Path | str, table: str,
              version: int = SCHEMA_VERSION) -> None:
    """Write a Parquet table as is (no schema conform), e.g. with the objective columns."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {**(arrow.schema.metadata or {}), VERSION_KEY.encode(): str(version).encode()}
    pq.write_table(arrow.replace_schema_metadata(meta), str(Path(run_dir) / f"{table}.parquet"))


def with_objective(trials: pd.DataFrame, name: str, direction: str) -> pd.DataFrame:
    """``trials`` with the objective_name/objective_direction columns of newer tables."""
    return trials.assign(objective_name=name, objective_direction=direction)


def fabricate_run(run_dir: Path | str, offset: float = 0.0, robustness: bool = True) -> str:
    """Write trials, history (and robustness) Parquet files into ``run_dir``."""
    run_dir = str(run_dir)
    write_table(fabricate_trials(offset), run_dir, "trials")
    hist = pd.DataFrame([{"trial_id": f"t{i}", "epoch": e, "train_loss": 1.0 / e, "drifted_loss": 0.9}
                         for i in range(len(TRIAL_SPEC)) for e in (1, 2)])
    write_table(hist, run_dir, "history")
    if robustness:
        write_table(fabricate_robustness(), run_dir, "robustness")
    return run_dir


def accuracy_trials() -> pd.DataFrame:
    """The fabricated trials as a maximised grid_accuracy search (objective 1 - loss)."""
    trials = fabricate_trials()
    return with_objective(trials.assign(objective_mean=1 - trials["objective_mean"]),
                          "grid_accuracy", "max")


def is_png(path: Path) -> bool:
    """``path`` is a PNG image of a drawn figure (over 100 pixels high)."""
    data = Path(path).read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000 and imread(path).shape[0] > 100
