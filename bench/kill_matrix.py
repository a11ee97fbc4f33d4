"""Kill/resume matrix: SIGKILL a real ``bayesft-tune search`` at set points of its life, resume it,
and check that every finished trial and every reported epoch is recorded exactly once.

    .venv/bin/python bench/kill_matrix.py                       # both backends, every kill point
    .venv/bin/python bench/kill_matrix.py --backends s3 --points mid_trial,table_write

Backends:

* ``cluster``: a 2-node Ray cluster on loopback (``tests/loopback_cluster.py``: head and a
  worker node, 1 CPU each, separate ``--temp-dir``, ``RAY_AUTH_MODE=token``, its own
  ``RAY_TMPDIR``); the search joins it with ``--address`` and writes to a local storage path.
* ``s3``: a moto S3 server on loopback; the search (local Ray) writes to ``s3://``.

Kill points (the driver is SIGKILLed, then ``bayesft-tune search --resume RUN_DIR``):

* ``before_first_trial``: while the ERM reference trains (its progress line), no trial started;
* ``mid_trial``: a trial has reported an epoch (its ``result.json``) and none has finished;
* ``between_trials``: ``--concurrency 1``, right after the first "[  1/N] trial ... completed" line;
* ``final_job``: inside the final job (``BAYESFT_PAUSE_AT=final``, see ``bayesft_tune/faults.py``);
* ``table_write``: inside the first ``trials.parquet`` write, after its temporary file is
  written and before it is moved into place (``BAYESFT_PAUSE_AT=table_write:trials``);
* ``worker_kill``: a trial's worker process (``ray::ImplicitFunc``) is SIGKILLed mid-trial; the
  search must finish by itself (Tune retries the trial, ``--max-failures``), no resume;
* ``node_kill`` (cluster only): the worker node's raylet is SIGKILLed while a trial runs there.

Checks after the run finished: each trial's ``result.json`` (Tune's own per-trial record) vs
``trials.parquet`` and ``history.parquet``: every trial whose record reached the last epoch
is ``completed`` exactly once; every (trial, epoch) in the records is one history row; no
other rows; every Ax trial index once; the trials finished before the kill keep
their objective (not re-run); no temporary table file left. Writes a JSON table (default
``bench/results/kill_matrix.json``) and prints it as Markdown.

The backends are in ``_kill_matrix_backends.py``, one case (start, kill, resume) in
``_kill_matrix_case.py``, reading and checking a run in ``_kill_matrix_checks.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from _kill_matrix_backends import ClusterBackend, S3Backend  # noqa: E402  (needs tests/ on sys.path)
from _kill_matrix_case import run_case  # noqa: E402

POINTS = ("before_first_trial", "mid_trial", "between_trials", "final_job", "table_write", "worker_kill",
          "node_kill")


def _abandoned(records: dict | None) -> str:
    if not records:
        return "0"
    return f"{len(records)} ({sum(records.values())} epochs)"


def markdown(rows: list[dict]) -> str:
    head = ("| backend | kill point | killed at | t (s) | finished at kill | resume rc | completed | "
            "trials rows / records | history rows / record epochs | dup | lost | abandoned | result |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        rc = r["resume_rc"] if r["resume_rc"] is not None else f"n/a (search rc {r['search_rc']})"
        dup = (r.get("dup_trial_rows") or 0) + (r.get("dup_history_rows") or 0)
        lost = len(r.get("lost_trials") or []) + (r.get("lost_epochs") or 0)
        lines.append(f"| {r['backend']} | {r['point']} | {r['killed_at']} | {r['kill_s']} | {r['finished_at_kill']} "
                     f"| {rc} | {r.get('completed')} | {r.get('rows')} / {r.get('records')} | "
                     f"{r.get('history_rows')} / {r.get('record_epochs')} | {dup} | {lost} | "
                     f"{_abandoned(r.get('abandoned_records'))} | "
                     f"{'ok' if r.get('ok') else 'FAIL: ' + str(r.get('problem'))} |")
    return head + "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="cluster,s3")
    ap.add_argument("--points", default=",".join(POINTS))
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "kill_matrix.json"))
    ap.add_argument("--work", default=None, help="where runs and logs go (default: a new temp dir)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="kill-matrix-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {work}", flush=True)
    rows = []
    for name in args.backends.split(","):
        backend = ClusterBackend(work) if name == "cluster" else S3Backend(work)
        try:
            points = [p for p in args.points.split(",") if p != "node_kill" or name == "cluster"]
            for point in sorted(points, key=lambda p: p == "node_kill"):  # the node kill last: it loses a node
                row = run_case(backend, point, work, args.trials, args.epochs)
                rows.append(row)
                print(json.dumps(row, default=str), flush=True)
        finally:
            backend.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"trials": args.trials, "epochs": args.epochs, "rows": rows},
                                         indent=1, default=str))
    print(markdown(rows))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
