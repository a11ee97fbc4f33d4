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
from bayesft_tune.search.input_checks import (check_checkpoint_matches, check_device, check_output_path, check_sigmas,
                                              load_checkpoint)
from bayesft_tune.storage import resolve

__all__ = ["CONNECT_TIMEOUT_S", "SKIP_RESOURCE_CHECK_ENV", "STORAGE_TIMEOUT_S", "busy_notice",
           "check_checkpoint_matches", "check_device", "check_output_path", "check_ray_address", "check_resources", "check_sigmas", "check_storage_writable", "load_checkpoint"]

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


def _dialled_host(host: str) -> str:
    """The host Ray dials for ``host``: it replaces ``localhost``, ``127.0.0.1`` and ``::1`` with
    this node's IP (``ray._private.services.resolve_ip_for_localhost``), so a server bound to
    the loopback only is not what Ray reaches."""
    if host not in ("localhost", "127.0.0.1", "::1"):
        return host
    from ray.util import get_node_ip_address  # heavy; the search imports Ray next anyway

    return get_node_ip_address()


HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(3) + b"\x04" + bytes(5)
"""The HTTP/2 preface and an empty SETTINGS frame: what a gRPC client (Ray's connection to a
GCS or a Ray Client server) sends first. A gRPC server answers with a SETTINGS frame (type 4)."""


def _connect(host: str, port: int, deadline: float, hello: bytes = b"") -> bytes:
    """TCP connect to ``host:port`` before ``deadline`` (monotonic); raises OSError.

    Returns:
        With ``hello``: up to 9 bytes of the answer to it (what arrived before the deadline or
        the peer closing); else b"".
    """
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
            except OSError as err:
                error = err
                continue
            return _first_bytes(sock, hello, deadline) if hello else b""
    raise error


def _first_bytes(sock: socket.socket, hello: bytes, deadline: float, n: int = 9) -> bytes:
    answer = b""
    try:
        sock.sendall(hello)
        while len(answer) < n and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(n - len(answer))
            if not chunk:
                break
            answer += chunk
    except OSError:  # reset or timed out: judge what arrived
        pass
    return answer


def _not_ray(answer: bytes) -> bool:
    """Whether ``answer`` (to :data:`HTTP2_HELLO`) shows another protocol than Ray's gRPC. Nothing
    at all is not judged (a slow or TLS server: ``RAY_USE_TLS``): Ray itself tries then."""
    return bool(answer) and answer[3:4] != b"\x04" and os.environ.get("RAY_USE_TLS", "0") in ("0", "")


def check_ray_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Check that a Ray cluster address answers, as a gRPC server, within ``timeout`` seconds.

    ``None`` (start Ray locally), ``"auto"`` and ``"local"`` pass without a network call.

    Raises:
        UserInputError: malformed address, unknown host, nothing listening there, or a
            server of another protocol (a web server, the dashboard).
    """
    if address is None or address.strip() in ("auto", "local"):
        return
    host, port = _host_port(address.strip())
    dialled = host if address.strip().startswith("ray://") else _dialled_host(host)
    try:
        answer = _connect(dialled, port, time.monotonic() + timeout, HTTP2_HELLO)
    except OSError as err:
        via = f" (Ray dials this machine's address {dialled} for {host})" if dialled != host else ""
        raise UserInputError(
            f"--address must name a running Ray cluster; nothing answered at {dialled}:{port}{via} within "
            f"{timeout:g} s ({err.strerror or err}). Start the head node ('ray start --head'), fix the "
            "address, or drop --address to start Ray locally.") from err
    if _not_ray(answer):
        raise UserInputError(
            f"--address must name a Ray head's port; {dialled}:{port} answered, but not as Ray's gRPC server "
            f"(it began {answer!r}). Pass the head's GCS address (host:6379 by default: `ray status` on the head "
            "prints it; the dashboard's 8265 is not it), ray://host:10001 for Ray Client, or drop --address.")


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


def busy_notice(cpus_per_trial: float, gpus_per_trial: float, address: str | None,
                free: Mapping[str, float] | None = None) -> str | None:
    """A line saying why a joined cluster starts nothing yet, or None if one trial fits now.

    A cluster shared with other jobs may hold every CPU or GPU: Ray then queues this search's
    work, silently, until they free up. Call after Ray is initialised.

    Args:
        cpus_per_trial, gpus_per_trial: resources each trial (and the ERM reference) requests.
        address: the joined cluster's address (None: a local Ray of our own, never busy).
        free: resources free now; default ``ray.available_resources()``.
    """
    if address is None:
        return None
    if free is None:
        import ray  # heavy; only needed once the runner has started Ray

        free, address = ray.available_resources(), f"{address} ({ray.get_runtime_context().gcs_address})"
    cpu, gpu = float(free.get("CPU", 0)), float(free.get("GPU", 0))
    if cpu >= cpus_per_trial and gpu >= gpus_per_trial:
        return None
    return (f"the Ray cluster at {address} has {cpu:g} CPU(s) and {gpu:g} GPU(s) free now, one trial needs "
            f"{cpus_per_trial:g} and {gpus_per_trial:g}: other jobs hold them, and this search waits until they "
            "free up (`ray status` shows who holds what; Ctrl-C stops the search).")


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
