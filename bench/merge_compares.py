"""Join the tables of several ``bayesft-tune compare`` runs of one task and data split.

    python bench/merge_compares.py OUT DIR [DIR ...] --task mnist_lenet5 --reference bayesft

Used when seeds are added to an earlier comparison (``--first-seed``). Every run must carry
a ``manifest.json`` of the same commit (clean) and settings hash: runs of different code are
refused (:func:`bayesft_tune.provenance.refuse_mixed`). A (method, seed) scored by more than
one run must also have identical rows in each. Writes OUT/robustness.parquet,
OUT/compare_tests.parquet and OUT/compare.md, and prints the summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd

from bayesft_tune.compare import CompareConfig, summary_table
from bayesft_tune.errors import UserInputError
from bayesft_tune.paired import paired_tests
from bayesft_tune.provenance import MANIFEST, refuse_mixed

KEY = ["method", "trial_id", "sigma"]


def merge(dirs: list[str]) -> pd.DataFrame:
    """Concatenate the runs' robustness rows, one copy per (method, seed, σ).

    Raises:
        SystemExit: a (method, seed) scored twice with different accuracies, or two runs
            with different data splits, sample counts or σ grids.
    """
    try:
        refuse_mixed([json.load(open(os.path.join(d, MANIFEST))) for d in dirs], "merge_compares")
    except (OSError, UserInputError) as err:
        sys.exit(f"cannot pool these runs: {err}")
    tables = [pd.read_parquet(os.path.join(d, "robustness.parquet")) for d in dirs]
    for col in ("data_seed", "samples"):
        values = sorted({v for t in tables for v in t[col].unique()})
        if len(values) != 1:
            sys.exit(f"runs differ in {col}: {values}; merge only runs of one split and T")
    rows = pd.concat(tables, ignore_index=True)
    for key, g in rows.groupby(KEY):
        if len(g) > 1 and not np.allclose(g.accuracy_mean, g.accuracy_mean.iloc[0], atol=1e-9):
            sys.exit(f"{key} differs between runs: {g.accuracy_mean.tolist()}; the runs are not comparable")
    dupes = rows.duplicated(KEY)
    print(f"{dupes.sum()} rows scored by more than one run, all identical", file=sys.stderr)
    return rows[~dupes].reset_index(drop=True)


def main() -> int:
    """Parse arguments, merge, write and print."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--task", required=True)
    p.add_argument("--reference", default="bayesft")
    p.add_argument("--methods", help="comma-separated order of the table (default: as found)")
    args = p.parse_args()
    rows = merge(args.dirs)
    methods = tuple(args.methods.split(",")) if args.methods else tuple(dict.fromkeys(rows.method))
    seeds = sorted({int(s.removeprefix("seed")) for s in rows.trial_id})
    cfg = CompareConfig(task=args.task, methods=methods, seeds=len(seeds), reference=args.reference,
                        out=args.out)
    os.makedirs(args.out, exist_ok=True)
    rows.to_parquet(os.path.join(args.out, "robustness.parquet"), index=False)
    paired_tests(rows, args.reference).to_parquet(os.path.join(args.out, "compare_tests.parquet"), index=False)
    counts = rows.groupby("method").trial_id.nunique().to_dict()
    text = (f"task {args.task}, seeds {seeds} (paired where both methods have the seed; per method: {counts}), "
            f"merged from {', '.join(args.dirs)}\n\n" + summary_table(cfg, rows))
    print(text)
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
