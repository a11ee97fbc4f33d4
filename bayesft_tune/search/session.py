"""Starting and stopping Ray for a command: one context manager, quiet unless ``--debug``."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from typing import Iterator

import ray

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.preflight import check_ray_address

__all__ = ["DEBUG_ENV", "LOCAL_RAY_CONFIG", "ray_environment", "ray_session", "scoped_environ"]

DEBUG_ENV = "BAYESFT_DEBUG"
"""``1``: show Ray's own start-up logs and warnings (``bayesft-tune --debug``)."""


LOCAL_RAY_CONFIG = {"RAY_prestart_worker_first_driver": "0", "RAY_worker_niceness": "0"}
"""Ray settings of a local Ray this process starts (its raylet reads them from the environment it
inherits):

* ``RAY_prestart_worker_first_driver=0``: Ray pre-starts one worker per CPU for the first
  driver, but Tune's trial actors carry a ``runtime_env`` (Tune sets ``PL_DISABLE_FORK``) and so
  never run in them: on a 2-core machine the two pre-started workers booted beside the trials'
  own in the busiest seconds of a search, and were then killed idle.
* ``RAY_worker_niceness=0``: Ray starts its workers at nice 15, below its daemons and the
  driver. Here the workers run the trials, the search's main work: at nice 15 the driver's GP
  step (nice 0) took a core from them whenever it ran, and any other busy process on the
  machine left them almost nothing (scheduler weight 36 against 1024).
"""


def ray_environment() -> None:
    """Keep Ray's files out of its default temp dir and its console output short."""
    os.environ.setdefault("RAY_TMPDIR", os.path.join(tempfile.gettempdir(), "bayesft-ray"))
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no per-trial CSV/JSON/TBX pile
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")  # Ctrl-C stops the search (exit 130), no partial finish
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")  # the MC objective is on eval epochs only


@contextlib.contextmanager
def scoped_environ(values: dict[str, str] | None) -> Iterator[None]:
    """``values`` in this process's environment for the block; each variable restored (or
    removed) after it."""
    saved = {k: os.environ.get(k) for k in values or {}}
    os.environ.update(values or {})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def ray_session(address: str | None = None, env: dict[str, str] | None = None,
                py_modules: list[str] | None = None) -> Iterator[bool]:
    """Join ``address`` (checked reachable first) or start a local Ray; shut down what we started.

    Args:
        address: Ray cluster address; None starts Ray locally.
        env: environment variables of every worker of this job (inherited by a local Ray's
            processes; a cluster's workers get them as the job's ``runtime_env``).
        py_modules: the user's task code (``.py`` files, package directories), shipped to every
            node with the job's ``runtime_env``, on a local Ray too (one path for both).

    Yields:
        True if this context started or joined Ray (and will shut it down), False if Ray
        was already initialised by the caller.
    """
    ray_environment()
    if ray.is_initialized():
        yield False
        return
    check_ray_address(address)
    os.makedirs(os.environ["RAY_TMPDIR"], exist_ok=True)
    debug = os.environ.get(DEBUG_ENV) == "1"
    saved = os.environ.get("RAY_AUTH_MODE")
    if not address and saved is None:  # a local Ray only this process talks to needs no token
        os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        # A local Ray's raylet, and so every worker, inherits this process's environment (a job
        # runtime_env would join every worker's, so no worker started without one could serve).
        own = {k: v for k, v in LOCAL_RAY_CONFIG.items() if k not in os.environ}  # the user's settings win
        with scoped_environ({**own, **(env or {})} if not address else None), _joining(address):
            ray.init(address=address or None, include_dashboard=False if not address else None,
                     log_to_driver=False, logging_level=logging.INFO if debug else logging.ERROR,
                     runtime_env=_runtime_env(address, env, py_modules))
    finally:
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
    try:
        yield True
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _joining(address: str | None) -> Iterator[None]:
    """Turn Ray's failure to join ``address`` (something answered, but not a Ray head) into one line."""
    try:
        yield
    except (ConnectionError, RuntimeError) as err:
        if not address:
            raise
        last = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        raise UserInputError(
            f"--address must name a running Ray cluster; {address} answered, but Ray could not join a cluster "
            f"there ({last}). Pass the head node's GCS address (host:6379 by default: `ray status` on the head "
            "prints it; not the dashboard's 8265), ray://host:10001 for Ray Client, or drop --address to start "
            "Ray locally.") from err


def _runtime_env(address: str | None, env: dict[str, str] | None, py_modules: list[str] | None) -> dict | None:
    """The job's ``runtime_env``: ``env`` on a cluster, and the shipped modules anywhere."""
    out: dict = {}
    if env and address:
        out["env_vars"] = dict(env)
    if py_modules:
        out["py_modules"] = list(py_modules)
    return out or None
