"""What shipping a user's task module costs at start-up: ``runtime_env={"py_modules": [file]}``
against no runtime_env, on a local Ray and on the loopback two-node cluster.

    python bench/task_shipping.py [--repeats 3]

Each repeat starts (or joins) Ray in a fresh driver process and times ``ray.init`` plus one
task: with shipping, the task imports the fixture module
``tests/fixtures/user_project/tiny_digits.py`` from the job's ``py_modules``; without, it
imports an installed module (on a cluster's other node, nothing else is importable: the
driver's PYTHONPATH does not reach it). On the cluster the task is pinned to the second
node. Prints the median seconds of each case and the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "user_project" / "tiny_digits.py"
sys.path.insert(0, str(ROOT / "tests"))

from loopback_cluster import LoopbackCluster, cluster_env  # noqa: E402  (the tests' real cluster)

PROBE = """
import sys, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
address, ship = sys.argv[1] or None, sys.argv[2] == "ship"
start = time.perf_counter()
ray.init(address=address, log_to_driver=False, include_dashboard=False if not address else None,
         runtime_env={"py_modules": [sys.argv[3]]} if ship else None)
nodes = sorted((n for n in ray.nodes() if n["Alive"]), key=lambda n: n["NodeManagerPort"])
where = NodeAffinitySchedulingStrategy(nodes[-1]["NodeID"], soft=False)
@ray.remote(num_cpus=1, scheduling_strategy=where)
def imported():
    import importlib
    return importlib.import_module("tiny_digits" if ship else "json").__file__
path = ray.get(imported.remote())
print(f"{time.perf_counter() - start:.3f} {path}")
ray.shutdown()
"""


def _run(address: str, ship: bool, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, address, "ship" if ship else "none", str(FIXTURE)],
                         env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    seconds, path = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert ("runtime_resources" in path) == ship, path
    return float(seconds)


def _cases(address: str, env: dict[str, str], repeats: int) -> dict[str, float]:
    return {mode: statistics.median(_run(address, mode == "ship", env) for _ in range(repeats))
            for mode in ("none", "ship")}


WRAPPED = """import bayesft_tune as bft
TASK = bft.Task(name="mlp_as_user_task", model="mlp", data="mnist_embedded", widths_kwarg="hidden",
                base_widths=(192, 32), arch_knobs=("activation", "norm"))
"""
"""The built-in ``mnist_mlp`` written as a user's task file: the same search, plus shipping."""


def _search_wall(task: str, cwd: str) -> float:
    cli = str(Path(sys.executable).with_name("bayesft-tune"))
    out = subprocess.run([cli, "search", "--task", task, "--trials", "4", "--epochs", "2", "--samples", "4",
                          "--robustness-samples", "4", "--quiet", "--storage-path", cwd], capture_output=True,
                         text=True, timeout=600, cwd=cwd)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(next(line for line in out.stdout.splitlines() if line.startswith("wall time:")).split()[2])


def search_overhead(repeats: int) -> dict[str, float]:
    """Median ``wall time`` of a 4-trial search of ``mnist_mlp``, built in and as a user's file."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, "mlp_task.py").write_text(WRAPPED)
        return {name: statistics.median(_search_wall(task, d) for _ in range(repeats))
                for name, task in (("built in", "mnist_mlp"), ("user file", f"{d}/mlp_task.py:TASK"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    walls = search_overhead(repeats)
    print(f"search (4 trials, 2 epochs, mnist_mlp): wall {walls['built in']:.1f} s built in, "
          f"{walls['user file']:.1f} s as a user's task file (+{walls['user file'] - walls['built in']:.1f} s)")
    local_env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": tempfile.mkdtemp(prefix="bft-ship")}
    results = {"local": _cases("", local_env, repeats)}
    short = Path(tempfile.mkdtemp(prefix="bft", dir="/tmp"))
    cluster = LoopbackCluster(short, base_port=48380).start()
    try:
        results["loopback cluster (second node)"] = _cases(cluster.address, cluster_env(short), repeats)
    finally:
        cluster.stop()
    for where, r in results.items():
        print(f"{where}: ray.init + first task {r['none']:.2f} s without shipping, {r['ship']:.2f} s with "
              f"py_modules (overhead {r['ship'] - r['none']:+.2f} s, median of {repeats})")


if __name__ == "__main__":
    main()
