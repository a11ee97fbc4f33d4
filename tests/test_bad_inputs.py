"""Every bad input is one clear error: the real CLI over a table of bad flags and values.

Each case runs ``bayesft_tune.cli.main(argv)`` in-process from an empty working
directory and checks: the exit status (2, or 130 for an interrupt), that stderr names
the flag or rule, that no traceback or ANSI code is printed, that a user-input error is
one line, and that no file in the workspace changed (nor appeared). Ray and training are
replaced by a tripwire, so a case that is not refused before them fails at once instead
of running a search. The cases themselves are in ``tests/bad_input_cases.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bayesft_tune import add_dropout, build_model
from bayesft_tune.cli import main

from bad_input_cases import CASES as FLAG_CASES, Case  # the tables of bad command lines
from bad_input_tasks import USER_TASK

CASES = FLAG_CASES + USER_TASK
N_CASES = len(CASES)


class Tripwire(Exception):
    """Raised where a bad input got past validation (Ray start, search, training)."""


def _damaged_runs(root: Path) -> None:
    """Run directories with a damaged reference, and tables another program wrote."""
    for name, data in (("badref", b"not a torch file"), ("cutref", b"PK\x03\x04 cut short")):
        (root / name).mkdir()
        (root / name / "search_config.json").write_text(json.dumps({"trials": 4, "name": name}))
        (root / name / "reference.pt").write_bytes(data)
    (root / "oddref").mkdir()
    (root / "oddref" / "search_config.json").write_text(json.dumps({"trials": 4, "name": "oddref"}))
    torch.save({"weights": 1}, root / "oddref" / "reference.pt")
    (root / "wrongrun").mkdir()  # Parquet tables of another program
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(root / "wrongrun" / "trials.parquet")
    (root / "texttrials").mkdir()
    pd.DataFrame({"trial_id": ["t"], "status": ["completed"], "epochs": ["ten"]}).to_parquet(
        root / "texttrials" / "trials.parquet")


def _workspace(root: Path) -> None:
    """Files the cases point at: a run directory, broken configs and checkpoints."""
    for d in ("empty", "cwd", "elsewhere"):
        (root / d).mkdir()
    (root / "afile").write_text("a plain file\n")
    run = root / "run"
    run.mkdir()
    (run / "search_config.json").write_text(json.dumps({"trials": 4, "name": "run"}))
    (run / "trials.parquet").write_bytes(b"PAR1 not really parquet")
    (run / "history.parquet").write_bytes(b"PAR1 not really parquet")
    (root / "leftover" / "trial_x").mkdir(parents=True)  # a run without its search_config.json
    (root / "leftover" / "trials.parquet").write_bytes(b"PAR1 not really parquet")
    (root / "leftover" / "trial_x" / "result.json").write_text("{}")
    _damaged_runs(root)
    (root / "badrun").mkdir()
    (root / "badrun" / "search_config.json").write_text("{not json")
    (root / "oddrun").mkdir()
    (root / "oddrun" / "search_config.json").write_text(json.dumps({"trails": 4}))
    for model, slots in (("mlp", 2), ("lenet5", 4)):
        net = add_dropout(build_model(model), [0.1] * slots)
        torch.save({"model": model, "rates": [0.1] * slots, "state_dict": net.state_dict()}, root / f"{model}.pt")
    (root / "lenet.pt").write_bytes((root / "lenet5.pt").read_bytes())
    (root / "cut.pt").write_bytes((root / "mlp.pt").read_bytes()[:2000])
    (root / "text.pt").write_text("not a checkpoint\n")
    (root / "zero.pt").write_bytes(b"")
    torch.save({"weights": 1}, root / "odd.pt")
    digits = np.random.default_rng(0).integers(0, 16, size=(200, 8, 8))
    labels = np.arange(200) % 10
    np.savez(root / "digits8.npz", x_train=digits, y_train=labels, x_test=digits[:50], y_test=labels[:50])
    np.savez(root / "partial.npz", x_train=digits, y_train=labels)
    np.savez(root / "negative.npz", x_train=digits, y_train=labels - 1, x_test=digits[:50], y_test=labels[:50])


def _snapshot(root: Path) -> dict[str, str]:
    """Content hash of every file (empty directories a check created do not count)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    _workspace(root)
    return root


@pytest.fixture
def tripwires(monkeypatch):
    """Ray, searches and training raise :class:`Tripwire` instead of running."""
    import ray

    import bayesft_tune.evaluate_cmd as evaluate_cmd
    import bayesft_tune.search.runner as runner

    def trip(*args, **kwargs):
        raise Tripwire("a bad input got past validation")

    monkeypatch.setattr(ray, "init", trip)
    monkeypatch.setattr(runner, "connect_ray", trip, raising=False)
    for name in ("Trainer", "evaluate_under_drift"):
        monkeypatch.setattr(evaluate_cmd, name, trip)


def _argv(case: Case, root: Path) -> list[str]:
    return [a.replace("{w}", str(root)) for a in case.argv]


def _params():
    for i, case in enumerate(CASES):
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(case, id=f"{i:03d}-{' '.join(case.argv)[:60]}", marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input_is_one_clear_error(case: Case, workspace: Path, tripwires, capsys, monkeypatch):
    for name, text in case.files.items():
        (workspace / name).write_text(text)
    before = _snapshot(workspace)
    monkeypatch.chdir(workspace / "cwd")
    try:
        code = main(_argv(case, workspace))
    finally:
        for name in case.files:
            (workspace / name).unlink()
    out, err = capsys.readouterr()
    assert code == case.code, f"exit {code}; stderr: {err}"
    assert "Traceback" not in out + err and "\x1b" not in err
    cmd = case.argv[0] if case.argv and not case.argv[0].startswith("-") else ""
    lines = [line for line in err.splitlines() if line.strip() and not line.endswith(STARTING)]
    assert lines and lines[-1].startswith(f"bayesft-tune{' ' + cmd if cmd and case.kind == 'user' else ''}")
    assert ": error: " in lines[-1]
    if case.kind == "user":
        assert len(lines) == 1, f"a user-input error is one line: {err}"
    assert re.search(case.match.replace("{w}", str(workspace)), err), err
    after = _snapshot(workspace)
    for name in case.files:
        before.pop(name)
    assert after == before, "files in the workspace changed"


STARTING = "starting (loading torch, Ax and Ray)"
"""The progress line a search prints before its imports: not part of an error."""


def _interrupting(remember: str | None):
    def run(*args, **kwargs):
        from bayesft_tune.search.interrupt import remember_run_dir

        if remember:
            remember_run_dir(remember)
        raise KeyboardInterrupt
    return run


def test_interrupted_search_says_how_to_resume(tripwires, monkeypatch, capsys):
    import bayesft_tune.search.runner as runner

    monkeypatch.setattr(runner, "run_search", _interrupting("runs/search-1"))
    assert main(["search", "--trials", "2"]) == 130
    err = capsys.readouterr().err.replace(f"bayesft-tune search: {STARTING}\n", "")
    assert err.strip() == ("bayesft-tune search: interrupted; resume with: "
                           "bayesft-tune search --resume runs/search-1")


def test_interrupted_resume_names_its_run_dir(tripwires, monkeypatch, capsys, tmp_path):
    import bayesft_tune.search.runner as runner

    monkeypatch.setattr(runner, "resume_search", _interrupting(None))
    assert main(["search", "--resume", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip().endswith(f"resume with: bayesft-tune search --resume {tmp_path}")


def test_interrupted_evaluate_is_one_line(tripwires, monkeypatch, capsys):
    import bayesft_tune.evaluate_cmd

    monkeypatch.setattr(bayesft_tune.evaluate_cmd, "load_data", _interrupting(None))
    assert main(["evaluate"]) == 130
    assert capsys.readouterr().err == "bayesft-tune evaluate: interrupted.\n"


def test_case_count():
    """The suite's size, printed with ``pytest -s``; the issue asks for 120 or more."""
    expected = sum(1 for c in CASES if not c.xfail)
    print(f"\n{N_CASES} bad-input cases ({expected} pass now, {N_CASES - expected} xfail until fixed)")
    assert N_CASES >= 120
