"""Benchmark: what a finished search's trials cost when retrained one at a time, alone.

Retrains every trial of a run directory in this process on one thread (the plain loop's way
in ``bench/vs_plain_loop.py``: ``Trial`` built from the trial's own
``params.json``, run to its last epoch), and prints each trial's wall beside the wall the
search recorded (``trials.parquet`` ``wall_time_s``: Tune's ``time_total_s``, which includes
the worker's set-up of the trial and whatever shared the cores with it). It separates two
questions a search's wall mixes: how much compute its proposed configurations need, and how
much the service added while running them.

    python bench/replay_trials.py RUN_DIR [--out bench/results/replay.json]

``RUN_DIR``: a finished search's run directory, e.g. one ``bench/vs_plain_loop.py --keep``
left under ``$TMPDIR/vspl_*/runs/``. Run it on a quiet machine: the replay is timed.

Only classification tasks without their own trainable (the MNIST tasks) replay this way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def replay(run_dir: Path) -> list[dict]:
    """Retrain each trial of ``run_dir`` alone on one thread; one row per trial, in trial-index order."""
    import pandas as pd
    import torch

    from bayesft_tune.tasks.spec import TrialSpec
    from bayesft_tune.tasks.trial import Trial

    torch.set_num_threads(1)
    recorded = pd.read_parquet(run_dir / "trials.parquet").set_index("trial_index").wall_time_s
    configs = sorted((json.loads(p.read_text()) for p in run_dir.glob("trial_*/params.json")),
                     key=lambda c: c["ax_trial_index"])
    rows = []
    for config in configs:
        spec = TrialSpec.from_config(config)
        start = time.perf_counter()
        Trial(spec, spec.knobs(config), torch.device("cpu")).run(lambda metrics, epoch: None)
        index = int(config["ax_trial_index"])
        rows.append({"trial_index": index, "replay_wall_s": time.perf_counter() - start,
                     "search_wall_s": float(recorded.get(index, float("nan")))})
        print(f"trial {index:3d}: replay {rows[-1]['replay_wall_s']:6.1f} s, in the search "
              f"{rows[-1]['search_wall_s']:6.1f} s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", default=None, help="write the rows and sums as JSON here")
    args = ap.parse_args()
    if not (args.run_dir / "trials.parquet").is_file() or not any(args.run_dir.glob("trial_*/params.json")):
        ap.error(f"RUN_DIR must be a finished search's run directory (trials.parquet and trial_*/params.json); "
                 f"got {str(args.run_dir)!r}. Fix: pass the directory `bayesft-tune search` printed as its run directory.")
    rows = replay(args.run_dir)
    sums = {k: sum(r[k] for r in rows) for k in ("replay_wall_s", "search_wall_s")}
    print(f"{len(rows)} trials: replayed alone {sums['replay_wall_s']:.1f} s; in the search {sums['search_wall_s']:.1f} s")
    if args.out:
        Path(args.out).write_text(json.dumps({"run_dir": str(args.run_dir), "sums": sums, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
