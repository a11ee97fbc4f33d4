"""One case of ``bench/kill_matrix.py``: start a real ``bayesft-tune search``, wait for its kill
point, kill it there (the driver, a trial worker or the worker node's raylet), resume the search
where the driver was killed, and check the finished run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from _kill_matrix_backends import Backend
from _kill_matrix_checks import _finished, _has_rows, _progress, _records, _tmp_files, check

CLI = str(Path(sys.executable).with_name("bayesft-tune"))


def run_case(backend: Backend, point: str, work: Path, trials: int, epochs: int) -> dict:
    name = f"{backend.name}-{point}"
    fs, storage_root = backend.fs()
    run = f"{storage_root}/{name}"
    env = _search_env(backend, point)
    log = work / f"{name}.log"
    started = time.time()
    proc = subprocess.Popen([CLI, "search", *_search_flags(backend, name, point, trials, epochs)], env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    row = {"backend": backend.name, "point": point, "killed_at": None, "kill_s": None,
           "finished_at_kill": None, "search_rc": None, "resume_rc": None}
    cond, what = _kill_conditions(backend, proc, fs, run, log)[point]
    if not _wait_for(proc, cond):
        row["killed_at"] = f"NOT REACHED ({what}); driver exit {proc.poll()}"
        if proc.poll() is None:
            proc.kill()
        row["log_tail"] = _progress(log)[-1500:]
        return row
    row["kill_s"] = round(time.time() - started, 1)
    before = _finished(_records(fs, run), epochs)
    row["finished_at_kill"] = len(before)
    row["started_at_kill"] = len(_records(fs, run))
    if point in ("worker_kill", "node_kill"):
        _kill_worker(backend, point, proc, what, row)
    else:
        _kill_driver(proc, what, row, fs, run)
        _resume(backend, f"{backend.storage()}/{name}", env, work / f"{name}.resume.log", row)
    row["wall_s"] = round(time.time() - started, 1)
    row.update(check(fs, run, trials, epochs, before))
    if not row["ok"]:
        row["log_tail"] = _progress(log)[-800:]
    return row


def _search_env(backend: Backend, point: str) -> dict[str, str]:
    env = {**backend.env, "BAYESFT_SMOKE": "1"}
    if point == "final_job":
        env["BAYESFT_PAUSE_AT"] = "final=20"
    if point == "table_write":
        env["BAYESFT_PAUSE_AT"] = "table_write:trials=20"
    return env


def _search_flags(backend: Backend, name: str, point: str, trials: int, epochs: int) -> list[str]:
    concurrency = "1" if point == "between_trials" else "2"
    return ["--storage-path", backend.storage(), "--name", name, "--trials", str(trials), "--epochs", str(epochs),
            "--concurrency", concurrency, "--samples", "4", "--robustness-samples", "4", "--max-failures", "3",
            *(["--address", backend.address] if backend.address else [])]


def _wait_for(proc: subprocess.Popen, cond, timeout=300.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.25)
    return False


def _kill_conditions(backend: Backend, proc: subprocess.Popen, fs, run: str, log: Path) -> dict:
    """Kill point -> (has the search reached it now?, what the kill hits)."""

    def completed_lines() -> int:
        return _progress(log).count(" completed ")

    return {
        "before_first_trial": (lambda: "training the ERM reference" in _progress(log),
                               "ERM reference training (progress line)"),
        "mid_trial": (lambda: completed_lines() == 0 and _has_rows(fs, run, "history"),
                      "a trial reported an epoch (history.parquet), none finished"),
        "between_trials": (lambda: completed_lines() >= 1, "right after the first 'completed' line"),
        "final_job": (lambda: "pausing at final" in _progress(log), "inside the final job (hook)"),
        "table_write": (lambda: "pausing at table_write:trials" in _progress(log),
                        "inside the first trials.parquet write (hook)"),
        "worker_kill": (lambda: completed_lines() >= 1 and backend.workers(proc.pid),
                        "a trial worker process, after 1 trial finished"),
        "node_kill": (lambda: completed_lines() >= 1 and any(
            c for c in backend.workers(proc.pid) if _under(c, getattr(backend, "worker_raylet", lambda: -1)())),
                      "worker node raylet, a trial running there"),
    }


def _kill_worker(backend: Backend, point: str, proc: subprocess.Popen, what: str, row: dict) -> None:
    """SIGKILL a trial worker (or the worker node's raylet); the search must finish by itself."""
    if point == "worker_kill":
        victim = backend.workers(proc.pid)[0]
        row["killed_at"] = f"{what}: pid {victim.pid}"
        victim.kill()
    else:
        raylet = backend.worker_raylet()
        row["killed_at"] = f"{what}: raylet pid {raylet}"
        os.kill(raylet, signal.SIGKILL)
    row["search_rc"] = proc.wait(timeout=600)


def _kill_driver(proc: subprocess.Popen, what: str, row: dict, fs, run: str) -> None:
    """SIGKILL the search driver, then the processes it had started."""
    try:
        driver_tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        driver_tree = []
    row["killed_at"] = what
    proc.send_signal(signal.SIGKILL)
    row["search_rc"] = proc.wait()
    time.sleep(1)
    for child in driver_tree:  # a local Ray the killed driver started (s3 backend)
        try:
            child.kill()
        except psutil.Error:
            pass
    row["tmp_files_after_kill"] = _tmp_files(fs, run)


def _resume(backend: Backend, run_uri: str, env: dict[str, str], rlog: Path, row: dict) -> None:
    """``bayesft-tune search --resume`` the killed run (without the pause hook) to its end."""
    renv = {k: v for k, v in env.items() if k != "BAYESFT_PAUSE_AT"}
    resume = subprocess.run([CLI, "search", "--resume", run_uri,
                             *(["--address", backend.address] if backend.address else [])],
                            env=renv, stdout=open(rlog, "w"), stderr=subprocess.STDOUT, timeout=600)
    row["resume_rc"] = resume.returncode
    if resume.returncode != 0:
        row["resume_tail"] = _progress(rlog)[-1500:]


def _under(proc: psutil.Process, raylet: int) -> bool:
    try:
        return any(p.pid == raylet for p in proc.parents())
    except psutil.Error:
        return False
