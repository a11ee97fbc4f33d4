"""Timing whole processes for ``bench/vs_plain_loop.py``: (a) one service search and (b) one plain
loop (``vs_plain_loop.py --plain``), each from a fresh interpreter; and where (a)'s wall went."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from _vs_plain_loop_plain import returned_auc
from cpu_by_thread import machine_cpu  # the whole machine's busy and idle core-seconds

SCRIPT = Path(__file__).resolve().with_name("vs_plain_loop.py")
"""The bench's main script; run with ``--plain`` it is (b)'s child process."""
TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def _time_v(path: str) -> dict[str, float]:
    """User/system seconds and peak RSS from a ``/usr/bin/time -v`` report."""
    text = Path(path).read_text()
    grab = lambda label: float(re.search(rf"{label}: ([\d.]+)", text).group(1))  # noqa: E731
    return {"user_s": grab(r"User time \(seconds\)"), "sys_s": grab(r"System time \(seconds\)"),
            "max_rss_mb": grab(r"Maximum resident set size \(kbytes\)") / 1024}


def time_process(cmd: list[str], env: dict[str, str], tmp: str) -> dict[str, Any]:
    """Run ``cmd`` to completion; wall from the bench's clock, CPU and peak RSS from ``time -v``
    (else ``getrusage(RUSAGE_CHILDREN)``; Ray daemons not reaped by the child are not counted).
    ``machine_busy_s`` / ``machine_idle_s``: the whole machine's busy and idle core-seconds over
    the run (every process: Ray's workers and daemons too, and any background load)."""
    report = os.path.join(tmp, f"time-{uuid.uuid4().hex[:8]}.txt")
    full = [TIME_BIN, "-v", "-o", report, *cmd] if TIME_BIN else cmd
    before, cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu()
    start, t = time.time(), time.perf_counter()
    proc = subprocess.run(full, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall, end = time.perf_counter() - t, time.time()
    busy, idle = (after - b4 for after, b4 in zip(machine_cpu(), cpu_before))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    if TIME_BIN:
        usage = _time_v(report)
    else:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        usage = {"user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
                 "max_rss_mb": after.ru_maxrss / 1024}
    return {"wall_s": wall, "start": start, "end": end, **usage, "machine_busy_s": busy, "machine_idle_s": idle,
            "output": proc.stdout}


def _driver_connected(ray_dir: Path) -> float:
    """Time of the first line of Ray's driver log (``ray.init`` done), or NaN."""
    for log in sorted(ray_dir.glob("*/session_2*/logs/python-core-driver-*.log")):  # RAY_TMPDIR/ray/session_…
        match = re.search(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+)", log.read_text(errors="replace")[:500])
        if match:
            return datetime.strptime(match.group(1).replace(",", "."), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    return math.nan


def service_shares(run_dir: Path, ray_dir: Path, proc: dict) -> dict[str, Any]:
    """Seconds of (a)'s wall per phase, from its run directory's files and logs (see module doc)."""
    import pandas as pd

    from bayesft_tune.search.rundir import searcher_times

    mtime = lambda name: (run_dir / name).stat().st_mtime  # noqa: E731
    concurrency = json.loads((run_dir / "search_config.json").read_text())["concurrency"]
    trials = pd.read_parquet(run_dir / "trials.parquet")
    connected = _driver_connected(ray_dir)
    printed = re.search(r"wall time: (\d+) s", proc["output"])
    gp_total, gp_blocking = searcher_times(str(run_dir))
    seconds = {"startup": mtime("search_config.json") - proc["start"],
               "ray_start": connected - mtime("search_config.json"),
               "reference": max(0.0, mtime("reference.pt") - connected),  # trains alongside Ray's start
               "trials": float(trials.wall_time_s.sum()) / concurrency,
               "gp": gp_total, "gp_blocking": gp_blocking,
               "final": mtime("robustness.parquet") - mtime("trials.parquet"),
               "shutdown": proc["end"] - mtime("selection.parquet")}
    return {"seconds": seconds, "concurrency": concurrency, "trial_seconds_sum": float(trials.wall_time_s.sum()),
            "printed_wall_s": float(printed.group(1)) if printed else math.nan,
            "trials_completed": int((trials.status == "completed").sum())}


def run_service(task: str, seed: int, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    """(a): one default search (search seed ``seed``) as a whole process; its wall, breakdown and test AUC."""
    import pandas as pd

    key = uuid.uuid4().hex[:6]  # RAY_TMPDIR stays short: Ray's socket paths must fit 107 bytes
    name, ray_dir = f"vs-plain-{task}-{key}", Path(tmp) / f"r{key}"
    cmd = [str(Path(sys.executable).parent / "bayesft-tune"), "search", "--task", task, "--storage-path",
           os.path.join(tmp, "runs"), "--name", name, "--quiet", "--trials", str(args.trials), "--seed", str(seed)]
    cmd += ["--epochs", str(args.epochs)] if args.epochs else []
    env = {**os.environ, "RAY_TMPDIR": str(ray_dir)}  # its own Ray session dir, to find its driver log
    proc = time_process(cmd, env, tmp)
    run_dir = Path(tmp) / "runs" / name
    out = {**{k: v for k, v in proc.items() if k != "output"}, **service_shares(run_dir, ray_dir, proc),
           "auc": returned_auc(pd.read_parquet(run_dir / "robustness.parquet"))}
    for path in () if args.keep else (run_dir, ray_dir):
        shutil.rmtree(path, ignore_errors=True)
    return out


def run_plain(task: str, seed: int, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    """(b): the plain loop (search seed ``seed``) as a whole process (``--plain``), on one core."""
    result = os.path.join(tmp, f"plain-{uuid.uuid4().hex[:8]}.json")
    cmd = [sys.executable, str(SCRIPT), "--plain", "--task", task, "--seeds", str(seed), "--trials", str(args.trials),
           "--result", result]
    cmd += ["--epochs", str(args.epochs)] if args.epochs else []
    proc = time_process(cmd, {**os.environ, "OMP_NUM_THREADS": "1"}, tmp)
    inner = json.loads(Path(result).read_text())
    sec = inner["seconds"]
    sec["startup"] = inner.pop("main_start") - proc["start"] + sec.pop("imports")  # interpreter + imports
    sec["shutdown"] = proc["end"] - proc["start"] - sum(sec[k] for k in sec if k != "gp")  # interpreter exit
    return {**{k: v for k, v in proc.items() if k != "output"}, **inner,
            "trial_seconds_sum": sum(r["wall_time_s"] or 0.0 for r in inner["rows"])}
