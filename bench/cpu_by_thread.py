"""Benchmark tool: where a command's CPU goes, per process role and per thread (Linux ``/proc``).

    python bench/cpu_by_thread.py [--interval 0.5] [--bin 2] [--top 12] [--out FILE.json] -- COMMAND ...
    python bench/cpu_by_thread.py -- bayesft-tune search --task mnist_mlp --storage-path /tmp/runs --quiet

Runs COMMAND and, every ``--interval`` seconds until it exits, reads every thread's user+system
CPU time (``/proc/PID/task/TID/stat``) and the machine's idle time (``/proc/stat``). Prints:

* the wall, and the machine's busy and idle core-seconds over it (every process on the machine);
* idle core-seconds per ``--bin``-second bin (where the cores waited: start-up, the tail);
* CPU per process role: ``command`` (COMMAND's own process: for a search, the driver with its
  Tune loop and the searcher's GP thread), ``trial workers`` (Ray processes running Tune's
  trainables, ``ray::ImplicitFunc``), ``ray daemons`` (raylet, GCS, agents, monitors), ``other``;
* the ``--top`` threads by CPU, with their process's role (for the command's process the thread
  ``main`` is its main thread).

Limits: a process's CPU counts up to its last sample (its exited threads included), from
COMMAND's start for processes that existed before it; a thread's, up to the thread's last
sample, and threads are read only for the command's and Ray's processes. The sampling costs
about 2 % of a core at 0.5 s (1.9 core-s over a 90-s search). Python 3.11 threads carry their
process's name, not their ``threading`` name, so the command's threads other than ``main`` are
numbered (a profiler such as ``py-spy dump`` names them).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
ROLES = ("command", "trial workers", "ray daemons", "other")


def machine_cpu() -> tuple[float, float]:
    """``(busy, idle)`` core-seconds of the whole machine since boot (``/proc/stat``; idle counts
    iowait); NaNs where there is no ``/proc``."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return math.nan, math.nan
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICK, idle / TICK  # user..steal; guest time is inside user


def machine_idle() -> float:
    """The machine's idle + iowait core-seconds since boot."""
    return machine_cpu()[1]


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:  # the process or thread exited
        return None


def _cpu(stat: str) -> float:
    """User + system seconds from a ``stat`` line (a process's: all its threads, exited ones too)."""
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def short(cmdline: str) -> str:
    """A command line with each path cut to its last two parts (``ray/_private/log_monitor.py``)."""
    return " ".join("/".join(w.split("/")[-2:]) if w.startswith("/") else w for w in cmdline.split())


def processes(known: dict[int, tuple[str, float]]) -> dict[int, tuple[str, float]]:
    """``pid -> (command line, CPU seconds)`` of every process now alive; a process exiting
    reads an empty command line, so one ``known`` from an earlier sample is kept."""
    out = {}
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        cmdline, stat = _read(f"/proc/{pid}/cmdline"), _read(f"/proc/{pid}/stat")
        if cmdline is not None and stat:
            out[pid] = (cmdline.replace("\0", " ").strip() or known.get(pid, ("",))[0], _cpu(stat))
    return out


def threads_of(pid: int) -> dict[int, float]:
    """``tid -> CPU seconds`` of ``pid``'s live threads."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    stats = {int(tid): _read(f"/proc/{pid}/task/{tid}/stat") for tid in tids}
    return {tid: _cpu(stat) for tid, stat in stats.items() if stat}


def role(pid: int, cmdline: str, command_pid: int) -> str:
    """Which of :data:`ROLES` a process plays."""
    if pid == command_pid:
        return "command"
    if cmdline.startswith("ray::ImplicitFunc") or cmdline.startswith("ray::IDLE"):
        return "trial workers"
    if cmdline.startswith("ray::") or "/site-packages/ray/" in cmdline:
        return "ray daemons"
    return "other"


def sample(command: list[str], interval: float, bin_s: float) -> dict:
    """Run ``command`` and sample until it exits; the raw totals (see the module docstring)."""
    before, procs, thread_cpu, bins = processes({}), {}, {}, collections.Counter()
    idle0 = idle_prev = machine_idle()
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    while proc.poll() is None:
        time.sleep(interval)
        procs.update(processes(procs))
        for pid, (cmdline, _) in procs.items():
            if role(pid, cmdline, proc.pid) != "other":  # threads only where they are read (cheaper)
                thread_cpu.update({(pid, tid): cpu for tid, cpu in threads_of(pid).items()})
        now, idle = time.perf_counter() - start, machine_idle()
        bins[int(now // bin_s) * bin_s] += idle - idle_prev
        idle_prev = idle
    wall, idle = time.perf_counter() - start, machine_idle() - idle0
    rows = [{"pid": pid, "role": role(pid, cmdline, proc.pid), "process": short(cmdline)[:90],
             "cpu_s": cpu - before.get(pid, ("", 0.0))[1]} for pid, (cmdline, cpu) in procs.items()]
    thread_rows = [{"pid": pid, "thread": "main" if pid == tid else str(tid), "cpu_s": cpu,
                    "role": role(pid, procs[pid][0], proc.pid), "process": short(procs[pid][0])[:90]}
                   for (pid, tid), cpu in thread_cpu.items()]
    return {"command": command, "returncode": proc.returncode, "wall_s": wall, "nproc": os.cpu_count(),
            "machine_idle_s": idle, "machine_busy_s": (os.cpu_count() or 1) * wall - idle,
            "idle_bins": {str(k): v for k, v in sorted(bins.items())},
            "processes": [r for r in rows if r["cpu_s"] > 0], "threads": thread_rows}


def report(raw: dict, top: int) -> str:
    """The printed summary of :func:`sample`'s totals."""
    lines = [f"wall {raw['wall_s']:.1f} s on {raw['nproc']} cores: machine busy {raw['machine_busy_s']:.1f} "
             f"core-s, idle {raw['machine_idle_s']:.1f} core-s",
             "idle core-s per bin (bin start s: idle): "
             + " ".join(f"{float(k):g}:{v:.1f}" for k, v in raw["idle_bins"].items() if v >= 0.05)]
    by_role = collections.Counter()
    for row in raw["processes"]:
        by_role[row["role"]] += row["cpu_s"]
    lines += [f"{r:>14}: {by_role[r]:6.1f} core-s" for r in ROLES]
    lines.append(f"top {top} processes (core-s, role, pid, process):")
    for row in sorted(raw["processes"], key=lambda r: -r["cpu_s"])[:top]:
        lines.append(f"  {row['cpu_s']:6.1f}  {row['role']:<13} {row['pid']:>7}  {row['process']}")
    lines.append(f"top {top} threads (core-s to their last sample, role, pid, thread, process):")
    for row in sorted(raw["threads"], key=lambda r: -r["cpu_s"])[:top]:
        lines.append(f"  {row['cpu_s']:6.1f}  {row['role']:<13} {row['pid']:>7} {row['thread']:>7}  {row['process']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between samples (default 0.5)")
    ap.add_argument("--bin", type=float, default=2.0, help="seconds per idle bin (default 2)")
    ap.add_argument("--top", type=int, default=12, help="threads listed (default 12)")
    ap.add_argument("--out", default=None, help="also write the raw totals as JSON")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or not Path("/proc/stat").exists():
        sys.exit("cpu_by_thread.py needs a command after -- and a Linux /proc; e.g. "
                 "python bench/cpu_by_thread.py -- bayesft-tune search --quiet")
    raw = sample(command, args.interval, args.bin)
    print(report(raw, args.top))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(raw, indent=1))
    sys.exit(raw["returncode"])


if __name__ == "__main__":
    main()
