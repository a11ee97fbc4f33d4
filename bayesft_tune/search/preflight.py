"""Pre-flight checks of a search's environment, each fast and bounded in time.

Each check raises :class:`~bayesft_tune.errors.UserInputError` naming the rule, the
value seen and the fix, instead of letting Ray retry, wait or write for minutes:

* :func:`check_ray_address`: a TCP connect (~3 s) before Ray is asked to join a cluster;
* :func:`check_resources`: trial resources against ``ray.cluster_resources()``;
* :func:`check_storage_writable`: create the run's directory and write a probe file.

The checks of a command's own inputs (σ grid, output path, device, checkpoint) are in
:mod:`bayesft_tune.search.input_checks`, and importable from here as well.
"""

from __future__ import annotations

import os
import posixpath
import socket
import threading
import time
import uuid
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.input_checks import (RUN_TABLES, check_checkpoint_matches, check_device, check_output_path,
                                              check_sigmas, load_checkpoint)
from bayesft_tune.storage import resolve

__all__ = ["CONNECT_TIMEOUT_S", "RUN_TABLES", "SKIP_RESOURCE_CHECK_ENV", "STORAGE_TIMEOUT_S",
           "check_checkpoint_matches", "check_device", "check_output_path", "check_ray_address",
           "check_resources", "check_sigmas", "check_storage_writable", "load_checkpoint"]

CONNECT_TIMEOUT_S = 3.0
"""Seconds a TCP connect to a Ray address (or a storage endpoint) may take."""
STORAGE_TIMEOUT_S = 10.0
"""Seconds the storage probe (create directory, write, delete) may take in all."""
SKIP_RESOURCE_CHECK_ENV = "BAYESFT_SKIP_RESOURCE_CHECK"
RAY_CLIENT_PORT = 10001


def _bounded(fn: Callable[[], Any], timeout: float, what: str, fix: str) -> Any:
    """Run ``fn`` in a daemon thread; raise a UserInputError if it takes over ``timeout`` s."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True, name=f"preflight-{what}")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise UserInputError(f"{what} must answer within {timeout:g} s; it did not. {fix}")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``host:port`` or ``ray://host[:port]`` (port 10001 by default)."""
    client = address.startswith("ray://")
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or (port is None and not client):
        raise UserInputError(f"--address must be 'auto', 'host:port' or 'ray://host:port' with a port "
                             f"in 1..65535; got {address!r}. Pass e.g. --address 10.0.0.5:6379.")
    return parts.hostname, port or RAY_CLIENT_PORT


def _connect(host: str, port: int, deadline: float) -> None:
    """TCP connect to ``host:port`` before ``deadline`` (monotonic); raises OSError."""
    infos = _bounded(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM),
                     max(0.1, deadline - time.monotonic()), f"name lookup of {host!r}",
                     "Check the host name, or pass an IP address.")
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, sockaddr in infos:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {CONNECT_TIMEOUT_S:g} s")
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(left)
            try:
                sock.connect(sockaddr)
                return
            except OSError as err:
                error = err
    raise error


def check_ray_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Check that a Ray cluster address answers a TCP connect within ``timeout`` seconds.

    ``None`` (start Ray locally), ``"auto"`` and ``"local"`` pass without a network call.

    Raises:
        UserInputError: malformed address, unknown host, or nothing listening there.
    """
    if address is None or address.strip() in ("auto", "local"):
        return
    host, port = _host_port(address.strip())
    try:
        _connect(host, port, time.monotonic() + timeout)
    except OSError as err:
        raise UserInputError(
            f"--address must name a running Ray cluster; nothing answered at {host}:{port} within "
            f"{timeout:g} s ({err.strerror or err}). Start the head node ('ray start --head'), fix the "
            "address, or drop --address to start Ray locally.") from err


def check_resources(cpus_per_trial: float, gpus_per_trial: float,
                    available: Mapping[str, float] | None = None) -> None:
    """Check that one trial fits the Ray cluster (call after Ray is initialised).

    Args:
        cpus_per_trial, gpus_per_trial: resources each trial requests.
        available: cluster resources; default ``ray.cluster_resources()``.

    Raises:
        UserInputError: a trial asks for more CPUs or GPUs than the whole cluster has
            (Ray would otherwise wait for them forever). Autoscaling clusters, whose
            nodes start on demand, can skip this check with ``BAYESFT_SKIP_RESOURCE_CHECK=1``.
    """
    if os.environ.get(SKIP_RESOURCE_CHECK_ENV) == "1":
        return
    if available is None:
        import ray  # heavy; only needed once the runner has started Ray

        available = ray.cluster_resources()
    have_cpu, have_gpu = float(available.get("CPU", 0)), float(available.get("GPU", 0))
    note = (f" On an autoscaling cluster whose nodes start on demand, set {SKIP_RESOURCE_CHECK_ENV}=1 "
            "to skip this check.")
    if gpus_per_trial > 0 and have_gpu < gpus_per_trial:
        raise UserInputError(
            f"--gpus-per-trial must fit the Ray cluster's GPUs; got gpus_per_trial={gpus_per_trial:g} but "
            f"the cluster has {have_gpu:g} GPU(s) (CPU {have_cpu:g}). Pass --gpus-per-trial 0 to train on "
            "CPU, or join a cluster with GPUs (--address)." + note)
    if cpus_per_trial > have_cpu:
        raise UserInputError(
            f"--cpus-per-trial must fit the Ray cluster's CPUs; got cpus_per_trial={cpus_per_trial:g} but "
            f"the cluster has {have_cpu:g} CPU(s). Pass --cpus-per-trial {max(have_cpu, 1):g} or less, "
            "or join a larger cluster (--address)." + note)


GCS_ENDPOINT = "https://storage.googleapis.com"


def _endpoint(uri: str) -> str | None:
    """The service endpoint a storage URI's client will call, if we can tell."""
    if uri.startswith("s3://"):
        return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if uri.startswith("gs://"):
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        return (emulator if "://" in emulator else f"http://{emulator}") if emulator else GCS_ENDPOINT
    return None


def _endpoint_reachable(uri: str) -> None:
    """TCP-check the storage service of an ``s3://`` (with ``AWS_ENDPOINT_URL[_S3]``) or ``gs://``
    URI before its client is used (a client without a route out retries for minutes)."""
    endpoint = _endpoint(uri)
    if not endpoint:
        return
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _connect(parts.hostname or "", port, time.monotonic() + CONNECT_TIMEOUT_S)
    except OSError as err:
        raise UserInputError(
            f"the storage service must be reachable for --storage-path {uri!r}; nothing answered at "
            f"{endpoint} within {CONNECT_TIMEOUT_S:g} s ({err.strerror or err}). Check the network route, start the "
            "server or fix AWS_ENDPOINT_URL / STORAGE_EMULATOR_HOST, or use a local --storage-path.") from err


def _probe(path_or_uri: str) -> None:
    fs, root = resolve(path_or_uri)
    fs.create_dir(root, recursive=True)
    probe = posixpath.join(root, f".bayesft-probe-{uuid.uuid4().hex}")
    with fs.open_output_stream(probe) as f:
        f.write(b"probe")
    fs.delete_file(probe)


def check_storage_writable(path_or_uri: str, timeout: float = STORAGE_TIMEOUT_S) -> None:
    """Create ``path_or_uri`` (a run's directory) and write, then delete, a probe file in it.

    Raises:
        UserInputError: a file is in the way, the location is read-only or missing
            (e.g. an S3 bucket), the endpoint does not answer, or it takes over ``timeout`` s.
    """
    _endpoint_reachable(path_or_uri)
    fix = "Pass --storage-path pointing at a writable directory or bucket."
    try:
        _bounded(lambda: _probe(path_or_uri), timeout, f"storage {path_or_uri!r}", fix)
    except UserInputError:
        raise
    except (OSError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserInputError(f"--storage-path must be a writable directory or URI (an existing "
                             f"bucket for s3://); writing a probe file to {path_or_uri!r} failed: "
                             f"{reason}. {fix}") from err
