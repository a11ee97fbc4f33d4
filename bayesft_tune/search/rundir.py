"""What the search layer keeps in a run directory (:class:`~bayesft_tune.run_dir.RunDir`): its
typed config, the ERM reference, the driver lock and the searcher's timings.

A run directory has one identity: a search's config is written once, a second search
with the same name is refused unless it resumes, and a resumed search writes only where
the directory lives now (``bayesft_tune.run_dir.RUN_DIR_ENV``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import socket
import time
from typing import Iterator

import pyarrow.fs as pafs
import torch

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_dir import CONFIG_FILE, LOCK_FILE, REFERENCE_FILE, RunDir
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.storage import join, resolve
from bayesft_tune.tasks.final import Reference

__all__ = ["driver_lock", "is_run_dir", "load_config", "load_reference", "refuse_existing", "save_config",
           "save_reference", "searcher_seconds", "searcher_times"]


def is_run_dir(run_dir: str) -> bool:
    """True if ``run_dir`` holds a search's manifest (``search_config.json``)."""
    return RunDir(run_dir).is_run()


def refuse_existing(run_dir: str, name: str) -> None:
    """A new search never writes into an existing run (it would mix two searches' trials): a
    directory holding any of a run's own files is one (:data:`~bayesft_tune.run_dir.RUN_FILES`)."""
    run = RunDir(run_dir)
    if run.is_run():
        raise UserInputError(f"run name {name!r} is taken: {run_dir} already holds a search. Continue it with "
                             f"--resume {run_dir}, or start a new one with another --name.")
    found = run.own_files()
    if found:
        raise UserInputError(f"run name {name!r} is taken: {run_dir} holds files of an earlier run ({', '.join(found[:4])}) "
                             f"but no {CONFIG_FILE}, so it cannot be resumed. Keep it and start the new search with "
                             "another --name (bayesft-tune repair rebuilds its tables from its trials).")


def save_config(cfg: SearchConfig, run_dir: str) -> None:
    """Write the run's manifest, ``search_config.json``."""
    RunDir(run_dir).write_manifest(cfg.to_dict())


def load_config(run_dir: str, **overrides) -> SearchConfig:
    """The config a search saved in its run directory (for ``--resume``)."""
    values = RunDir(run_dir).manifest()
    if values is None:
        raise UserInputError(f"{run_dir!r} is not a search run directory (no {CONFIG_FILE}). "
                             "Pass the directory a search printed as its run directory.")
    return SearchConfig.from_dict({**values, **overrides})


def save_reference(reference: Reference, run_dir: str) -> None:
    """Keep the ERM reference so a resumed search uses the same guard and ERM row."""
    buf = io.BytesIO()
    torch.save({"state": reference.state, "clean_accuracy": reference.clean_accuracy}, buf)
    RunDir(run_dir).write_bytes(REFERENCE_FILE, buf.getvalue())


def load_reference(run_dir: str) -> Reference | None:
    """The saved ERM reference, or None if the search has none yet."""
    try:
        data = RunDir(run_dir).read_bytes(REFERENCE_FILE)
    except (OSError, FileNotFoundError):
        return None
    try:
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        return Reference(state["state"], float(state["clean_accuracy"]))
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise UserInputError(
            f"{join(run_dir, REFERENCE_FILE)} is not a saved ERM reference ({type(err).__name__}: {err}). "
            f"Delete it and resume again: the search retrains the reference with the run's seed.") from err


def searcher_times(run_dir: str) -> tuple[float, float]:
    """``(GP total, GP blocking a slot)`` seconds recorded in the newest searcher state Tune saved
    in the run directory (NaN, NaN if none): the sum of the searcher's ``generation_seconds`` (every
    Ax generation, those overlapping running trials included) and of its ``blocking_seconds``
    (those made in Tune's thread, a free slot waiting). A state saved before pre-generation has no
    ``blocking_seconds``: every generation blocked then."""
    fs, root = resolve(run_dir)
    states = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(root))
                    if i.base_name.startswith("searcher-state-"))
    if not states:
        return float("nan"), float("nan")
    with fs.open_input_stream(states[-1]) as f:
        state = pickle.loads(f.read())
    total = state.get("generation_seconds", [])
    return float(sum(total)), float(sum(state.get("blocking_seconds", total)))


def searcher_seconds(run_dir: str) -> float:
    """GP total: every Ax generation's seconds (see :func:`searcher_times`)."""
    return searcher_times(run_dir)[0]


@contextlib.contextmanager
def driver_lock(run_dir: str) -> Iterator[None]:
    """One driver at a time per run: hold :data:`LOCK_FILE` for the block.

    A lock left by a driver that died on this host (its PID is gone) is taken over; any
    other is refused, naming the host and PID that hold it.

    Raises:
        UserInputError: another driver holds the run.
    """
    fs, root = resolve(run_dir)
    path = f"{root}/{LOCK_FILE}"
    mine = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    held = _read_lock(fs, path)
    if held is not None and _alive(held):
        raise UserInputError(f"{run_dir} is being run by another driver (host {held.get('host')}, PID "
                             f"{held.get('pid')}); one driver at a time. Wait for it to end, or, if that process is "
                             f"gone, delete {join(run_dir, LOCK_FILE)} and run --resume again.")
    RunDir(run_dir).write_bytes(LOCK_FILE, json.dumps(mine).encode())
    if _read_lock(fs, path) != mine:  # another driver wrote in between: it wins
        raise UserInputError(f"{run_dir}: another driver took the run at the same moment; run --resume again later.")
    try:
        yield
    finally:
        if _read_lock(fs, path) == mine:
            fs.delete_file(path)


def _read_lock(fs: pafs.FileSystem, path: str) -> dict | None:
    try:
        with fs.open_input_stream(path) as f:
            return json.loads(f.read().decode())
    except (OSError, FileNotFoundError, ValueError):
        return None


def _alive(held: dict) -> bool:
    """Whether the lock's driver may still run: on another host we cannot tell (assume so)."""
    if held.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(held.get("pid", -1)), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
