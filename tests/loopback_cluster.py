"""A real multi-node Ray cluster on loopback addresses, for the fault-tolerance tests.

Each node is its own ``ray start`` process tree with its own ports and temp dir (a
shared temp dir lets one node delete the other's job working dirs). Nodes use
127.0.0.2, which Ray keeps on loopback (127.0.0.1 is rewritten to the host address).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

IP = "127.0.0.2"


def ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


_TOKEN = secrets.token_hex(32)


def cluster_env(tmp: Path) -> dict[str, str]:
    """Environment for every process of the cluster and its drivers (token auth on)."""
    env = dict(os.environ)
    env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": _TOKEN, "RAY_TMPDIR": str(tmp / "raytmp"),
                "OMP_NUM_THREADS": "1", "RAY_AIR_NEW_OUTPUT": "0", "RAY_USAGE_STATS_ENABLED": "0",
                # detect a dead raylet within seconds, not the default ~30 s
                "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"})
    return env


@dataclass
class LoopbackCluster:
    """Head node plus one worker node on 127.0.0.2, 1 CPU each.

    ``tmp`` must be a short path: Ray puts Unix sockets under each node's temp dir,
    and socket paths longer than ~107 bytes fail.
    """

    tmp: Path
    base_port: int = 46380
    started: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{IP}:{self.base_port}"

    def _ports(self, offset: int) -> list[str]:
        p = self.base_port + offset
        return ["--node-manager-port", str(p + 1), "--object-manager-port", str(p + 2),
                "--min-worker-port", str(p + 10), "--max-worker-port", str(p + 59),
                "--dashboard-agent-listen-port", str(p + 3), "--dashboard-agent-grpc-port", str(p + 4),
                "--runtime-env-agent-port", str(p + 5), "--metrics-export-port", str(p + 6)]

    def _start(self, name: str, args: list[str], offset: int) -> None:
        temp = self.tmp / f"ray-{name}"
        temp.mkdir(parents=True, exist_ok=True)
        cmd = [ray_bin(), "start", f"--node-ip-address={IP}", f"--temp-dir={temp}", "--num-cpus=1",
               "--num-gpus=0", "--object-store-memory=200000000", "--disable-usage-stats",
               *args, *self._ports(offset)]
        self.started.append(str(temp))
        out = subprocess.run(cmd, env=cluster_env(self.tmp), capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"ray start ({name}) failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")

    def start(self) -> "LoopbackCluster":
        self._start("head", ["--head", f"--port={self.base_port}", "--include-dashboard=false",
                             "--ray-client-server-port", str(self.base_port + 7)], 0)
        self._start("worker", [f"--address={self.address}"], 100)
        self.wait_for_nodes(2)
        return self

    def wait_for_nodes(self, count: int, timeout: float = 60) -> None:
        script = ("import ray; ray.init(address='%s', log_to_driver=False); "
                  "print(sum(n['Alive'] for n in ray.nodes()))" % self.address)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run([sys.executable, "-c", script], env=cluster_env(self.tmp),
                                 capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(1)
        raise TimeoutError(f"cluster did not reach {count} live nodes: {out.stdout} {out.stderr}")

    def raylet_pid(self, node: str) -> int:
        """PID of the raylet of ``node`` ("head" or "worker"), found by its temp dir."""
        temp = str(self.tmp / f"ray-{node}")
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "raylet" in (proc.info["name"] or "") and temp in cmd:
                return proc.pid
        raise LookupError(f"no raylet found for node {node} ({temp})")

    def stop(self) -> None:
        """Stop every process of this cluster (``ray stop`` would stop all Ray on the machine) and
        wait until they are gone: the next cluster reuses the same ports (a back-to-back start
        failed while the last one's processes were still exiting)."""
        doomed: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter(["cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if any(t in cmd for t in self.started) or f"{IP}:{self.base_port}" in cmd:
                try:  # with its children: Ray's agents rename themselves (ray::DashboardAgent) and held our ports
                    doomed.update((p.pid, p) for p in [proc, *proc.children(recursive=True)])
                except psutil.Error:
                    pass
        for proc in doomed.values():
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(list(doomed.values()), timeout=30)
        shutil.rmtree(self.tmp / "raytmp", ignore_errors=True)
