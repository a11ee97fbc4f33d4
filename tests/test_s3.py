"""``s3://`` storage for real: an S3-protocol server (moto) on loopback, started by the test.

pyarrow (and so Ray Tune, which resolves storage URIs with pyarrow) takes the endpoint
from the standard ``AWS_ENDPOINT_URL`` environment variable, so the same variables point
``bayesft_tune.storage``, the search's Tune experiment and its Ray workers at the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import pandas as pd
import pyarrow.fs as pafs
import pytest

from bayesft_tune import storage
from bayesft_tune.errors import UserInputError
from bayesft_tune.search.preflight import check_storage_writable
from bayesft_tune.search.session import scoped_environ

pytest.importorskip("moto")

BUCKET = "bayesft-test"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
          "AWS_EC2_METADATA_DISABLED": "true"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto server did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto S3 server on loopback with one bucket; the AWS_* variables point at it."""
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with scoped_environ({**S3_ENV, "AWS_ENDPOINT_URL": endpoint}):
            _wait_listening(port, proc)
            pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key="testing",
                              secret_key="testing", region="us-east-1",
                              allow_bucket_creation=True).create_dir(BUCKET)
            yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"method": ["erm", "erm"], "trial_id": [None, None], "split": ["test", "test"],
                         "drift": ["lognormal"] * 2, "sigma": [0.0, 0.9], "samples": [4, 4],
                         "loss_mean": [0.2, 1.1], "accuracy_mean": [0.95, 0.5]})


def test_tables_round_trip_through_s3(s3_endpoint):
    run_dir = f"s3://{BUCKET}/tables/run1"
    written = storage.write_table(_frame(), run_dir, "robustness")
    assert written == f"{BUCKET}/tables/run1/robustness.parquet"
    back = storage.read_table(run_dir, "robustness")
    assert list(back.sigma) == [0.0, 0.9] and list(back.accuracy_mean) == [0.95, 0.5]
    fs, root = storage.resolve(run_dir)
    names = [i.base_name for i in fs.get_file_info(pafs.FileSelector(root))]
    assert names == ["robustness.parquet"], "no temporary file left beside the table"
    storage.write_table(_frame().assign(accuracy_mean=[0.9, 0.4]), run_dir, "robustness")
    assert list(storage.read_table(run_dir, "robustness").accuracy_mean) == [0.9, 0.4]


def test_endpoint_from_environment_and_explicit_filesystem_agree(s3_endpoint):
    fs, path = storage.resolve(f"s3://{BUCKET}/tables/run2")
    storage.write_table(_frame(), f"s3://{BUCKET}/tables/run2", "robustness")
    explicit = pafs.S3FileSystem(endpoint_override=s3_endpoint, scheme="http", access_key="testing",
                                 secret_key="testing", region="us-east-1")
    info = explicit.get_file_info(f"{BUCKET}/tables/run2/robustness.parquet")
    assert path == f"{BUCKET}/tables/run2" and info.type == pafs.FileType.File


def test_reading_a_missing_table_raises_file_not_found(s3_endpoint):
    """The recorder relies on this when a resumed run has no table yet."""
    with pytest.raises(FileNotFoundError):
        storage.read_table(f"s3://{BUCKET}/nowhere", "trials")


def test_preflight_storage_on_s3(s3_endpoint):
    check_storage_writable(f"s3://{BUCKET}/preflight/run")
    with pytest.raises(UserInputError, match="bucket"):
        check_storage_writable("s3://no-such-bucket-here/run")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_search_to_s3_then_resume(s3_endpoint, tmp_path):
    """A real two-trial search whose run directory is on the S3 server, then ``resume_search``."""
    import ray

    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.runner import resume_search, run_search

    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="bft", dir="/tmp")  # Unix socket paths stay short
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # inherits the AWS_* variables
    try:
        cfg = SearchConfig(trials=2, concurrency=1, epochs=1, samples=2, robustness_samples=2,
                           erm_baseline=False, storage_path=f"s3://{BUCKET}/runs", name="s3run",
                           verbose=False)
        out = run_search(cfg)
        run_dir = f"s3://{BUCKET}/runs/s3run"
        assert out.run_dir == run_dir
        trials = storage.read_table(run_dir, "trials")
        assert len(trials) == 2 and (trials.status == "completed").all(), trials[["status", "error"]]
        assert not storage.read_table(run_dir, "robustness").empty
        again = resume_search(run_dir)
        resumed = storage.read_table(run_dir, "trials").set_index("trial_id").sort_index()
        assert len(resumed) == 2, "resume re-ran no finished trial"
        pd.testing.assert_series_equal(resumed.objective_mean,
                                       trials.set_index("trial_id").sort_index().objective_mean)
        assert again.best["trial_id"] == out.best["trial_id"]
    finally:
        ray.shutdown()
