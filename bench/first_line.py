"""Benchmark: seconds from starting ``bayesft-tune search`` to its first printed line.

Starts the default search in a fresh process (a cold interpreter: nothing imported yet),
reads its merged stdout and stderr until the first line, notes the time, then interrupts
the search (Ctrl-C: exit status 130) and waits for it to exit. Repeats ``--repeats`` times
with a pause between runs so that one run's shutdown does not overlap the next one's start.
Run directories go to a temporary directory, removed at the end.

    python bench/first_line.py [--repeats 3] [--pause 5]

Target (issue: throughput): the first line within 3 s of the command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def first_line_seconds(storage: str, name: str) -> tuple[float, str, int]:
    """One cold start: (seconds to the first line, the line, the search's exit status)."""
    command = [os.path.join(os.path.dirname(sys.executable), "bayesft-tune"), "search",
               "--storage-path", storage, "--name", name]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    line = proc.stdout.readline()
    seconds = time.perf_counter() - started
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate()
    return seconds, line.strip(), proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pause", type=float, default=5.0, help="seconds between runs")
    args = ap.parse_args()
    if args.repeats < 1 or args.pause < 0:
        ap.error(f"--repeats must be >= 1 and --pause >= 0; got {args.repeats} and {args.pause}. "
                 f"Fix: e.g. --repeats 3 --pause 5.")
    storage = tempfile.mkdtemp(prefix="bft-first-line-")
    seconds = []
    try:
        for i in range(args.repeats):
            s, line, status = first_line_seconds(storage, f"first-line-{i}")
            seconds.append(s)
            print(f"run {i + 1}: first line after {s:.2f} s (exit status {status}): {line[:90]}", flush=True)
            time.sleep(args.pause)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    print(f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s over {len(seconds)} runs (target 3 s)")


if __name__ == "__main__":
    main()
