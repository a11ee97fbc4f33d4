"""``ray_session``: a local Ray's workers see the job's variables through inheritance (no job
runtime_env), Ray pre-starts no worker the trials cannot use, and the driver's own environment
is left as it was."""

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
        logs = os.path.join(ray._private.worker._global_node.get_session_dir_path(), "logs")
        workers = [f for f in os.listdir(logs) if f.startswith("python-core-worker-")]
        print(json.dumps({"actor": seen, "driver": os.environ.get("BAYESFT_PROBE"),
                          "runtime_env_vars": job_env.get("env_vars"), "workers": len(workers)}))
""")


def test_local_ray_workers_inherit_the_job_env_without_a_runtime_env():
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="bft-") as ray_dir:  # short: Ray's socket paths
        env = {**os.environ, "RAY_TMPDIR": ray_dir}
        env.pop("BAYESFT_PROBE", None)
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                              timeout=180, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"actor": "run-dir-now", "driver": None, "runtime_env_vars": None,
                   "workers": 1}  # the probe's own: none pre-started beside it


def test_fit_environment_lets_the_concurrent_trials_wait_for_their_actors_together(monkeypatch):
    """Tune's ``auto`` pending-trial limit is 1 for our searcher: trials would start one at a time."""
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.run_dir import RUN_DIR_ENV
    from bayesft_tune.search.tuner import PENDING_TRIALS_ENV, fit_environment

    monkeypatch.delenv(PENDING_TRIALS_ENV, raising=False)
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    cfg = SearchConfig(task="mnist_mlp", concurrency=3, verbose=False)
    with fit_environment(cfg, "/runs/r1"):
        assert os.environ[PENDING_TRIALS_ENV] == "3" and os.environ[RUN_DIR_ENV] == "/runs/r1"
    assert PENDING_TRIALS_ENV not in os.environ and RUN_DIR_ENV not in os.environ
    monkeypatch.setenv(PENDING_TRIALS_ENV, "8")  # the user's own setting wins, and stays
    with fit_environment(cfg, "/runs/r1"):
        assert os.environ[PENDING_TRIALS_ENV] == "8"
    assert os.environ[PENDING_TRIALS_ENV] == "8"
