"""``ray_session``: a local Ray's workers see the job's variables through inheritance (no
runtime_env, so trial actors may use the workers Ray pre-started), and the driver's own
environment is left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import ray
    from bayesft_tune.search.session import ray_session

    @ray.remote(num_cpus=1)
    class Probe:
        def env(self):
            return os.environ.get("BAYESFT_PROBE")

    with ray_session(env={"BAYESFT_PROBE": "run-dir-now"}):
        seen = ray.get(Probe.remote().env.remote())
        job_env = ray.get_runtime_context().runtime_env
        print(json.dumps({"actor": seen, "driver": os.environ.get("BAYESFT_PROBE"),
                          "runtime_env_vars": job_env.get("env_vars")}))
""")


def test_local_ray_workers_inherit_the_job_env_without_a_runtime_env():
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="bft-") as ray_dir:  # short: Ray's socket paths
        env = {**os.environ, "RAY_TMPDIR": ray_dir}
        env.pop("BAYESFT_PROBE", None)
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                              timeout=180, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"actor": "run-dir-now", "driver": None, "runtime_env_vars": None}
