"""A real ``bayesft-tune search`` process interrupted for real (``bench/kill_matrix.py`` runs the whole
matrix): Ctrl-C (SIGINT to its process group, as a terminal sends it) exits 130 with the resume
line and no final job; a driver SIGKILLed inside a table write resumes with every trial and
every epoch once and no temporary file left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from bayesft_tune.storage import remove_temporaries, write_table

CLI = str(Path(sys.executable).with_name("bayesft-tune"))


def test_remove_temporaries_deletes_only_what_a_killed_write_left(tmp_path):
    write_table(pd.DataFrame({"trial_id": ["a"], "epoch": [1]}), str(tmp_path), "history")
    left = tmp_path / f".trials.parquet.{'0' * 32}.tmp"  # write_file's temporary name
    left.write_bytes(b"PAR1 cut")
    (tmp_path / "notes.tmp").write_text("someone else's")
    assert remove_temporaries(str(tmp_path)) == [left.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.parquet", "notes.tmp"]
    assert remove_temporaries(str(tmp_path / "missing")) == []


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "BAYESFT_SMOKE": "1", "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_TMPDIR": tempfile.mkdtemp(prefix="bft", dir="/tmp")}  # short Unix socket paths
    env.pop("BAYESFT_PAUSE_AT", None)
    return {**env, **extra}


def _kill_group(pid: int) -> None:
    """The local Ray processes a killed driver started (its process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _start(root: Path, name: str, log: Path, env: dict[str, str], trials: int = 3) -> subprocess.Popen:
    cmd = [CLI, "search", "--storage-path", str(root), "--name", name, "--trials", str(trials), "--concurrency", "1",
           "--epochs", "2", "--samples", "2", "--robustness-samples", "2"]
    return subprocess.Popen(cmd, env=env, stdout=open(log.with_suffix(".out"), "w"), stderr=open(log, "w"),
                            start_new_session=True)  # its own process group, like a shell job


def _wait_for(text: str, log: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in log.read_text(errors="replace"):
            return
        assert proc.poll() is None, f"search exited {proc.returncode} first:\n{log.read_text()[-2000:]}"
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"{text!r} never appeared:\n{log.read_text()[-2000:]}")


def _resume_and_check(run: Path, env: dict[str, str], n: int = 3) -> None:
    done = subprocess.run([CLI, "search", "--resume", str(run)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == n and trials.trial_id.is_unique and (trials.status == "completed").all(), trials
    assert sorted(trials.trial_index) == list(range(n))
    history = pd.read_parquet(run / "history.parquet")
    assert len(history) == 2 * n and not history.duplicated(["trial_id", "epoch"]).any()
    assert set(history.trial_id) == set(trials.trial_id)
    assert (run / "robustness.parquet").exists()
    assert not list(run.glob(".*.tmp")), "a temporary table file was left"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ctrl_c_of_a_live_search_exits_130_with_the_resume_line_and_no_final_job(tmp_path):
    env, log = _env(), tmp_path / "search.err"
    proc = _start(tmp_path / "runs", "sigint", log, env, trials=8)  # 8 short trials: the search outlives the poll
    _wait_for("] trial ", log, proc)  # the first progress line: a trial finished, the search goes on
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    try:
        assert proc.wait(timeout=120) == 130, log.read_text()[-3000:]
    finally:
        _kill_group(proc.pid)
    run = tmp_path / "runs" / "sigint"
    err, out = log.read_text(), log.with_suffix(".out").read_text()
    assert f"bayesft-tune search: interrupted; resume with: bayesft-tune search --resume {run}\n" in err
    assert "re-scoring the top" not in err and "test accuracy under drift" not in out
    assert not (run / "robustness.parquet").exists() and not (run / "selection.parquet").exists()
    finished = pd.read_parquet(run / "trials.parquet")
    finished = finished[finished.status == "completed"].set_index("trial_id")
    assert 1 <= len(finished) < 8
    _resume_and_check(run, env, 8)
    trials = pd.read_parquet(run / "trials.parquet").set_index("trial_id")
    pd.testing.assert_series_equal(trials.loc[finished.index].objective_mean, finished.objective_mean)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_driver_killed_inside_a_table_write_resumes_with_everything_once(tmp_path):
    env, log = _env(BAYESFT_PAUSE_AT="table_write:trials=30"), tmp_path / "search.err"
    proc = _start(tmp_path / "runs", "cut", log, env)
    _wait_for("pausing at table_write:trials", log, proc)
    proc.kill()
    proc.wait()
    _kill_group(proc.pid)
    run = tmp_path / "runs" / "cut"
    assert list(run.glob(".trials.parquet.*.tmp")), "killed after the temporary file, before its move"
    _resume_and_check(run, _env())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_search_killed_before_tune_saved_its_experiment_resumes_where_it_lives_now(ray_session, tmp_path):
    """All that a driver killed while the ERM reference trains leaves is ``search_config.json``
    (no ``tuner.pkl``); ``--resume`` used to fail with FileNotFoundError. Moved, it runs where it is now."""
    import shutil

    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.rundir import save_config
    from bayesft_tune.search.runner import resume_search

    cfg = SearchConfig(trials=2, concurrency=1, epochs=1, samples=2, robustness_samples=2,
                       storage_path=str(tmp_path / "a"), name="early", verbose=False)
    save_config(cfg, str(tmp_path / "a" / "early"))
    run = tmp_path / "b" / "early"
    shutil.move(tmp_path / "a" / "early", run)
    outcome = resume_search(str(run))
    assert outcome.run_dir == str(run) and not (tmp_path / "a" / "early").exists()
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 2 and trials.trial_id.is_unique and (trials.status == "completed").all()
    assert (run / "robustness.parquet").exists() and (run / "tuner.pkl").exists()
