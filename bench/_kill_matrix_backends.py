"""The two backends of ``bench/kill_matrix.py``: a 2-node Ray cluster on loopback and a moto S3
server. ``kill_matrix.py`` puts ``tests/`` on ``sys.path`` (for ``loopback_cluster``) before
importing this module."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.fs as pafs
from loopback_cluster import LoopbackCluster, cluster_env

BUCKET = "bayesft-kill"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
          "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


class Backend:
    name = ""
    address: str | None = None
    env: dict[str, str] = {}

    def storage(self) -> str:
        raise NotImplementedError

    def fs(self) -> tuple[pafs.FileSystem, str]:
        from bayesft_tune.storage import resolve

        return resolve(self.storage())

    def workers(self, driver: int | None) -> list[psutil.Process]:
        """Trial worker processes of this backend now."""
        raise NotImplementedError

    def stop(self) -> None:
        pass


def _is_trial(p: psutil.Process) -> bool:
    try:
        return "ImplicitFunc" in " ".join(p.cmdline())
    except psutil.Error:
        return False


class ClusterBackend(Backend):
    name = "cluster"

    def __init__(self, work: Path) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bftk", dir="/tmp"))  # Unix socket paths stay short
        self.cluster = LoopbackCluster(self.tmp, base_port=47380).start()
        self.address = self.cluster.address
        self.env = cluster_env(self.tmp)
        self.root = work / "cluster-runs"

    def storage(self) -> str:
        return str(self.root)

    def workers(self, driver):
        out = []
        for node in ("head", "worker"):
            try:
                out += [c for c in psutil.Process(self.cluster.raylet_pid(node)).children(recursive=True)
                        if _is_trial(c)]
            except (LookupError, psutil.Error):
                pass
        return out

    def worker_raylet(self) -> int:
        return self.cluster.raylet_pid("worker")

    def stop(self) -> None:
        self.cluster.stop()


class S3Backend(Backend):
    name = "s3"

    def __init__(self, work: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log = open(work / "moto.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint})  # this process reads the run too
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key="testing", secret_key="testing",
                          region="us-east-1", allow_bucket_creation=True).create_dir(BUCKET)
        ray_tmp = tempfile.mkdtemp(prefix="bftk", dir="/tmp")
        self.env = {**os.environ, **S3_ENV, "AWS_ENDPOINT_URL": endpoint, "RAY_TMPDIR": ray_tmp,
                    "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}

    def storage(self) -> str:
        return f"s3://{BUCKET}/runs"

    def workers(self, driver):
        try:
            return [c for c in psutil.Process(driver).children(recursive=True) if _is_trial(c)] if driver else []
        except psutil.Error:
            return []

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
