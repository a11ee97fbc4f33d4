"""Pre-flight checks of a search's environment, each fast and bounded in time.

Each check raises :class:`~bayesft_tune.errors.UserInputError` naming the rule, the
value seen and the fix, instead of letting Ray retry, wait or write for minutes:

* :func:`check_ray_address`: a TCP connect (~3 s) before Ray is asked to join a cluster;
* :func:`check_resources`: trial resources against ``ray.cluster_resources()``;
* :func:`check_storage_writable`: create the run's directory and write a probe file;
* :func:`check_sigmas`: a σ grid is non-empty, finite and >= 0;
* :func:`check_output_path`: an output file never overwrites a run's tables;
* :func:`check_device`, :func:`load_checkpoint`, :func:`check_checkpoint_matches`:
  ``evaluate``'s device and checkpoint, before any data is loaded or model trained.
"""

from __future__ import annotations

import math
import os
import posixpath
import socket
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from bayesft_tune.errors import UserInputError
from bayesft_tune.storage import resolve

__all__ = ["CONNECT_TIMEOUT_S", "RUN_TABLES", "SKIP_RESOURCE_CHECK_ENV", "STORAGE_TIMEOUT_S",
           "check_checkpoint_matches", "check_device", "check_output_path", "check_ray_address",
           "check_resources", "check_sigmas", "check_storage_writable", "load_checkpoint"]

CONNECT_TIMEOUT_S = 3.0
"""Seconds a TCP connect to a Ray address (or a storage endpoint) may take."""
STORAGE_TIMEOUT_S = 10.0
"""Seconds the storage probe (create directory, write, delete) may take in all."""
RUN_TABLES = ("trials.parquet", "history.parquet")
"""Tables of a search run that no other output may overwrite."""
RUN_MARKER = "search_config.json"
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


def _endpoint_reachable(uri: str) -> None:
    """For ``s3://`` with ``AWS_ENDPOINT_URL[_S3]`` set: TCP-check the endpoint first."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not uri.startswith("s3://") or not endpoint:
        return
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _connect(parts.hostname or "", port, time.monotonic() + CONNECT_TIMEOUT_S)
    except OSError as err:
        raise UserInputError(
            f"the S3 endpoint must be reachable for --storage-path {uri!r}; nothing answered at "
            f"AWS_ENDPOINT_URL={endpoint!r} ({err.strerror or err}). Start the server or fix "
            "AWS_ENDPOINT_URL.") from err


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


def check_sigmas(name: str, values: Iterable[Any] | None) -> tuple[float, ...]:
    """Check a σ grid (``name`` is the flag or setting, e.g. ``"--sigmas"``); returns it as floats.

    Raises:
        UserInputError: empty, not numbers, not finite, or negative.
    """
    grid = list(values) if values is not None and not isinstance(values, (str, bytes)) else None
    if not grid:
        raise UserInputError(f"{name} must list one or more drift strengths σ >= 0; got {values!r}. "
                             f"Pass e.g. {name} 0,0.3,0.6,0.9.")
    bad = [v for v in grid if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v) or v < 0]
    if bad:
        raise UserInputError(f"{name} must hold finite numbers σ >= 0; got {bad[0]!r} in {grid}. "
                             f"Pass e.g. {name} 0,0.3,0.6,0.9.")
    return tuple(float(v) for v in grid)


def _is_run_dir(fs: pafs.FileSystem, directory: str) -> bool:
    return fs.get_file_info(posixpath.join(directory, RUN_MARKER)).type != pafs.FileType.NotFound


def check_output_path(path: str, flag: str = "--out") -> None:
    """Refuse an output file that would overwrite a search run's tables.

    Refused: a file named ``trials.parquet`` or ``history.parquet``, any file inside a
    directory holding ``search_config.json`` (a run directory), an existing directory,
    and (local paths) a path below an existing file.

    Raises:
        UserInputError: naming the path and the rule.
    """
    fs, full = resolve(path)
    name, parent = posixpath.basename(full), posixpath.dirname(full)
    fix = f"Pass {flag} a new file outside the run directory, e.g. {flag} robustness-eval.parquet."
    if name in RUN_TABLES:
        raise UserInputError(f"{flag} must not overwrite a search run's table ({name}); got {path!r}. {fix}")
    if _is_run_dir(fs, parent):
        raise UserInputError(f"{flag} must not write into a search run directory (it holds {RUN_MARKER}); "
                             f"got {path!r}. {fix}")
    if fs.get_file_info(full).type == pafs.FileType.Directory:
        raise UserInputError(f"{flag} must be a file path, not an existing directory; got {path!r}. {fix}")
    blocker = _file_in_the_way(fs, parent)
    if blocker:
        raise UserInputError(f"{flag} must be a path whose parents are directories; {blocker!r} is a file. "
                             f"Got {path!r}. {fix}")


def _file_in_the_way(fs: pafs.FileSystem, directory: str) -> str | None:
    """The nearest existing ancestor of ``directory`` if it is a file (local filesystems only)."""
    if not isinstance(fs, pafs.LocalFileSystem):
        return None
    while directory and not os.path.exists(directory):
        directory = os.path.dirname(directory.rstrip("/")) if directory != "/" else ""
    return directory if directory and not os.path.isdir(directory) else None


def check_device(text: str) -> None:
    """Check that ``text`` names a torch device this machine has (``cpu``, ``cuda[:N]``, ``mps``).

    Raises:
        UserInputError: not a device string, or the device is not present.
    """
    import torch  # heavy; only the evaluate command needs it here

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError) as err:
        raise UserInputError(f"--device must be a torch device: cpu, cuda, cuda:N or mps; got {text!r}. "
                             "Pass e.g. --device cpu.") from err
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (dev.index or 0) >= count:
            have = f"cuda:0..cuda:{count - 1}" if count else "no CUDA device"
            raise UserInputError(f"--device must be a device this machine has; got {text!r}, but it has "
                                 f"{have}. Pass --device cpu{' or cuda:0' if count else ''}.")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserInputError(f"--device must be a device this machine has; got {text!r}, but MPS is not "
                             "available. Pass --device cpu.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise UserInputError(f"--device must be cpu, cuda, cuda:N or mps; got {text!r}. Pass --device cpu.")


def load_checkpoint(path: str) -> dict:
    """Load a checkpoint written by ``evaluate --save`` or a search trial (``trial.pt``).

    Raises:
        UserInputError: missing, a directory, truncated, not a torch file, or without weights.
    """
    import torch  # heavy; only the evaluate command needs it here

    fix = "Pass the .pt file written by 'bayesft-tune evaluate --save' or a trial's trial.pt."
    if os.path.isdir(path):
        raise UserInputError(f"--checkpoint must be a file, not a directory; got {path!r}. {fix}")
    if not os.path.exists(path):
        raise UserInputError(f"--checkpoint must be an existing file; {path!r} does not exist. {fix}")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, UnpicklingError, EOFError, ...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserInputError(f"--checkpoint must be a complete torch checkpoint; loading {path!r} failed "
                             f"({reason}): the file is truncated or not a torch file. {fix}") from err
    if not isinstance(_weights(state), dict):
        keys = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise UserInputError(f"--checkpoint must hold model weights ('state_dict', or 'trainer' -> 'model'); "
                             f"{path!r} holds {keys}. {fix}")
    return state


def _weights(state: Any) -> Any:
    if not isinstance(state, dict):
        return None
    trainer = state.get("trainer")
    return state.get("state_dict", trainer.get("model") if isinstance(trainer, dict) else None)


def check_checkpoint_matches(state: dict, model: Any, model_name: str, path: str) -> dict:
    """The checkpoint's weights, if their keys and shapes match ``model``'s state dict.

    Raises:
        UserInputError: naming missing/unexpected keys and shape mismatches, and the
            model (or task) the checkpoint was saved for when it says.
    """
    weights = _weights(state)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(getattr(v, "shape", ())) for k, v in weights.items()}
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    shapes = [f"{k}: checkpoint {have[k]} vs model {want[k]}" for k in want if k in have and have[k] != want[k]]
    if not (missing or unexpected or shapes):
        return weights
    saved = state.get("model") or state.get("task")
    hint = f"It was saved for {saved!r}: pass --model (and --dataset) of that network." if saved else (
        "Pass the --model (and --dataset) the checkpoint was trained with.")
    raise UserInputError(f"--checkpoint must match --model {model_name}: the checkpoint's keys/shapes do not "
                         f"match the model's (missing {missing[:3]}, unexpected {unexpected[:3]}, "
                         f"shape mismatch {shapes[:3]}) in {path!r}. {hint}")
