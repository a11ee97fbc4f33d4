"""Tests of analysis.watch: ``bayesft-tune watch RUN_DIR`` on fabricated run directories."""

from __future__ import annotations

import importlib.util
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from analysis.watch import CLEAR, main, render, snapshot, watch
from bayesft_tune import cli
from bayesft_tune.storage import write_table

# the fabricated-run helpers live in fabricated_runs.py; load them whatever pytest's import mode
_spec = importlib.util.spec_from_file_location("_analysis_fixtures",
                                               Path(__file__).with_name("fabricated_runs.py"))
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

START = 1_700_000_000.0  # mtime given to search_config.json: the search's start


def _config(run_dir: Path, trials: int = 9) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "search_config.json"
    path.write_text(json.dumps({"trials": trials, "bounds": [0.0, 0.8]}), encoding="utf-8")
    os.utime(path, (START, START))


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """7 trials (5 completed, 1 failed, 1 running) of a 9-trial search."""
    _fixtures.fabricate_run(tmp_path / "run")
    _config(tmp_path / "run")
    return tmp_path / "run"


def _top_ids(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["rank", "trial_id"])
    return [line.split()[1] for line in lines[start + 1:] if line.strip()]


def test_once_prints_plain_text(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(run_dir), "--once"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a terminal: no escape codes
    assert "6/9 done (completed 5, failed 1), 1 running; elapsed" in out
    assert "objective: drifted_loss, drifted loss (nats), lower is better" in out
    assert "best so far (lowest drifted loss): 0.5000 ± 0.0100, trial t3" in out
    assert _top_ids(out) == ["t3", "t5", "t1", "t2", "t0"]


def test_snapshot_counts_and_elapsed(run_dir: Path) -> None:
    snap = snapshot(str(run_dir), k=2, now=START + 3725)
    assert (snap.total, snap.done, snap.running, snap.finished) == (9, 6, 1, False)
    assert snap.top["trial_id"].tolist() == ["t3", "t5"]
    assert snap.elapsed_s == pytest.approx(3725)
    assert "elapsed 1:02:05" in render(snap)


def test_tty_redraws_in_place(run_dir: Path) -> None:
    out = io.StringIO()
    assert watch(str(run_dir), once=True, out=out, tty=True) == 0
    text = out.getvalue()
    assert text.startswith(CLEAR) and "\x1b[1mbayesft-tune watch: " in text


def test_maximised_objective(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trials = _fixtures.fabricate_trials()
    trials = _fixtures.with_objective(trials.assign(objective_mean=1 - trials["objective_mean"]),
                                      "grid_accuracy", "max")
    _fixtures.write_raw(trials, tmp_path / "acc", "trials")
    assert main([str(tmp_path / "acc"), "--once"]) == 0
    out = capsys.readouterr().out
    assert "best so far (highest grid accuracy): 0.5000 ± 0.0100, trial t3" in out
    assert "6 done (total unknown: no search_config.json)" in out and "elapsed –" in out
    assert _top_ids(out) == ["t3", "t5", "t1", "t2", "t0"]


def test_waiting_for_first_trial(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _config(tmp_path / "new", trials=30)
    assert main([str(tmp_path / "new"), "--once"]) == 0
    out = capsys.readouterr().out
    assert "0/30 done" in out and "waiting for the first trial to complete" in out


def _finish(run_dir: Path) -> None:
    """Rewrite trials.parquet with all 9 trials of the search completed."""
    trials = pd.concat([_fixtures.fabricate_trials()] * 2, ignore_index=True).head(9)
    trials = trials.assign(trial_id=[f"t{i}" for i in range(9)], trial_index=range(9),
                           status="completed", objective_mean=[0.9 - 0.05 * i for i in range(9)])
    write_table(trials, str(run_dir), "trials")


def test_loop_prints_changes_and_stops_when_finished(run_dir: Path) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:  # nothing changed during the first interval
            _finish(run_dir)

    out = io.StringIO()
    assert watch(str(run_dir), interval=0.5, out=out, tty=False, sleep=sleep) == 0
    text = out.getvalue()
    assert sleeps == [0.5, 0.5]
    assert text.count("bayesft-tune watch: ") == 2  # the unchanged view is not printed again
    assert "9/9 done (completed 9), 0 running; finished after" in text
    assert "best so far (lowest drifted loss): 0.5000 ± 0.0100, trial t8" in text


@pytest.mark.parametrize("case, fix", [
    ("missing", "does not exist; pass the directory a search printed"),
    ("not_a_run", "is not a run directory: it holds neither trials.parquet nor search_config.json"),
    ("file", "must be a directory"),
    ("interval", "--interval must be a number of seconds > 0; got -1"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, case: str,
                               fix: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    _config(tmp_path / "run")
    target = {"missing": tmp_path / "nope", "not_a_run": tmp_path / "empty",
              "file": tmp_path / "file.txt", "interval": tmp_path / "run"}[case]
    extra = ["--interval", "-1"] if case == "interval" else ["--once"]
    assert main([str(target), *extra]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and len(err.splitlines()) == 1
    assert err.startswith("bayesft-tune watch: error: ") and fix in err


def test_cli_dispatches_watch(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["watch", str(run_dir), "--once"]) == 0
    assert "6/9 done" in capsys.readouterr().out
    try:  # argparse's --help exits; cli.main may turn that into its return value
        code = cli.main(["--help"])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 0 and "watch     " in capsys.readouterr().out  # listed among the commands
