"""``RunDir``: the one home of a run directory's files, manifest and tables (local here;
``tests/test_s3.py`` runs searches through it on an S3 server)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.run_dir import CONFIG_FILE, RUN_DIR_ENV, RunDir


def test_a_manifest_round_trips_and_names_the_task(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.manifest() is None and not run.is_run() and run.task() is None and run.own_files() == []
    run.write_manifest({"trials": 4, "task": "/abs/my_task.py:TASK"})
    assert run.is_run() and run.manifest() == {"trials": 4, "task": "/abs/my_task.py:TASK"}
    assert run.task() == "/abs/my_task.py:TASK" and run.own_files() == [CONFIG_FILE]
    assert json.loads((tmp_path / "run" / CONFIG_FILE).read_text())["trials"] == 4
    assert run.mtime(CONFIG_FILE) == pytest.approx(os.path.getmtime(tmp_path / "run" / CONFIG_FILE))
    assert run.mtime("trials.parquet") is None


@pytest.mark.parametrize("text, match", [("{not json", "is not valid JSON"), ("[1, 2]", "must hold a JSON object"),
                                         (b"\xff\xfe", "is not valid JSON")])
def test_a_damaged_manifest_is_named_with_the_fix(tmp_path, text, match):
    (tmp_path / CONFIG_FILE).write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserInputError, match=rf"{CONFIG_FILE} {match}.*(restore|Restore)"):
        RunDir(tmp_path).manifest()


def test_tables_are_written_to_the_schema_and_read_back(tmp_path):
    run = RunDir(tmp_path)
    run.write_table(pd.DataFrame({"trial_id": ["a"], "status": ["completed"], "objective_mean": [0.5]}), "trials")
    back = run.read_table("trials")
    assert back.trial_id.tolist() == ["a"] and str(back.objective_mean.dtype) == "float64"
    assert "task" in back.columns  # conformed: every schema column present
    assert run.own_files() == ["trials.parquet"] and not run.is_run()


def test_a_worker_finds_the_run_where_it_lives_now(tmp_path, monkeypatch):
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert RunDir.here() is None
    moved = RunDir(tmp_path / "moved")
    monkeypatch.setenv(*next(iter(moved.env().items())))
    assert RunDir.here().path == moved.path == str(tmp_path / "moved")
    assert RunDir("relative/run").path == os.path.abspath("relative/run")
    assert RunDir("s3://bucket/runs/a").join("trials.parquet") == "s3://bucket/runs/a/trials.parquet"
