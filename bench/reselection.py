"""How much re-selection changes the returned network: observed best vs re-selected, on test.

For every search run directory under ``ROOT`` (e.g. a ``bayesft-tune compare`` output),
loads the trial with the best *observed* objective and the trial the search returned
(``selection.parquet``: the top 3 re-scored with fresh validation draws), scores both on
the test split with the run's own test draws (the ``test`` seed stream, T = 32, σ ∈ {0,
0.3, ..., 1.5}), and prints the per-run test AUC of each and the paired difference.

    python bench/reselection.py /tmp/results/cmp_mlp [--pattern 'bayesft-seed*']
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np
import pandas as pd
from scipy import stats

from bayesft_tune import evaluate_under_drift, load_data, load_trial_model
from bayesft_tune.paired import auc_of
from bayesft_tune.seeds import stream_seed

SIGMAS = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5]


def _auc(run_dir: str, trial_id: str, seed: int, data_seed: int) -> float:
    model = load_trial_model(run_dir, trial_id)
    frame = evaluate_under_drift(model, load_data("mnist_embedded", seed=data_seed).test, SIGMAS, samples=32,
                                 seed=stream_seed(seed, "test"))
    curve = frame.groupby("sigma").accuracy.mean()
    return auc_of(curve.index.to_numpy(), curve.to_numpy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--pattern", default="bayesft-seed*")
    args = ap.parse_args()
    rows = []
    for run in sorted(glob.glob(os.path.join(args.root, args.pattern))):
        with open(os.path.join(run, "search_config.json")) as f:
            cfg = json.load(f)
        trials, sel = pd.read_parquet(f"{run}/trials.parquet"), pd.read_parquet(f"{run}/selection.parquet")
        observed = sel.sort_values("observed_rank").trial_id.iloc[0]
        chosen = sel[sel.chosen].trial_id.iloc[0]
        a_obs = _auc(run, observed, cfg["seed"], cfg["data_seed"])
        a_sel = a_obs if chosen == observed else _auc(run, chosen, cfg["seed"], cfg["data_seed"])
        rows.append({"run": os.path.basename(run), "observed_best": observed, "returned": chosen,
                     "changed": chosen != observed, "auc_observed_best": a_obs, "auc_returned": a_sel})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{100 * v:.2f}"))
    diff = (table.auc_returned - table.auc_observed_best).to_numpy()
    changed = int(table.changed.sum())
    p = stats.ttest_1samp(diff, 0).pvalue if changed >= 2 and np.any(diff != 0) else float("nan")
    print(f"\nre-selection changed the returned trial in {changed}/{len(table)} runs; test AUC returned - "
          f"observed best: mean {100 * diff.mean():+.2f} points (paired t p = {p:.3g})")


if __name__ == "__main__":
    main()
