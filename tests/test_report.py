"""Tests of analysis.report: report.md, the key table and the CLI entry point."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from analysis import figures, key_table, load_run, markdown_table, write_report
from analysis.report import main
from bayesft_tune.errors import UserInputError
from bayesft_tune.storage import write_table

# the fabricated-run helpers live in fabricated_runs.py; load them whatever pytest's import mode
_spec = importlib.util.spec_from_file_location("_analysis_fixtures",
                                               Path(__file__).with_name("fabricated_runs.py"))
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
fabricate_run = _fixtures.fabricate_run
fabricate_trials = _fixtures.fabricate_trials
write_raw = _fixtures.write_raw
with_objective = _fixtures.with_objective

FIGURES = ("robustness.png", "convergence.png", "dropout_rates.png", "decision_boundaries.png")


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    fabricate_run(tmp_path / "run")
    return tmp_path / "run"


def test_write_report_links_figures(run_dir: Path) -> None:
    path = write_report(run_dir)
    assert path == run_dir / "report" / "report.md"
    text = path.read_text(encoding="utf-8")
    for name in FIGURES:
        assert f"]({name})" in text  # relative link
        png = path.parent / name
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 1000
    assert "| 0.9 | 0.880 [0.859, 0.901] | 0.650 [0.607, 0.693] | 0.230 [0.184, 0.276] |" in text
    assert "| 1 | t3 | 3 | 0.5 | 0.01 |" in text and "fc1" in text  # best trial, dropout vector
    assert "| bayesft | 0.873 | 6 |" in text  # AUC
    assert "| all | 5 | 0.9 | 0.5 | 3 | t3 |" in text  # convergence summary (0-based index)
    assert "## Best 5 trials (lowest drifted loss)" in text
    assert "- objective: `drifted_loss`, drifted loss (nats), minimised (lower is better)" in text


def test_write_report_file_uri_and_out(run_dir: Path, tmp_path: Path) -> None:
    path = write_report(run_dir.resolve().as_uri(), tmp_path / "out", decision_boundaries=False)
    assert path == tmp_path / "out" / "report.md"
    assert "decision_boundaries.png" not in path.read_text(encoding="utf-8")
    assert write_report(run_dir.resolve().as_uri(), decision_boundaries=False).exists()


def test_report_without_robustness(tmp_path: Path) -> None:
    bare = fabricate_run(tmp_path / "bare", robustness=False)
    text = write_report(bare, decision_boundaries=False).read_text(encoding="utf-8")
    assert "robustness.parquet is absent" in text and "convergence.png" in text
    assert key_table(load_run(bare))["trial_id"].tolist()[:2] == ["t3", "t5"]


def test_key_table_values(run_dir: Path) -> None:
    table = key_table(load_run(run_dir))
    assert table["method"].tolist() == ["bayesft", "erm"]  # sorted by AUC
    assert table.loc[0, "auc"] == pytest.approx(0.873)
    assert table.loc[1, "acc@0.9"] == pytest.approx(0.65)


def test_main_prints_key_table_and_path(run_dir: Path, tmp_path: Path, capsys) -> None:
    rc = main([str(run_dir), "--out", str(tmp_path / "cli"), "--no-decision-boundaries"])
    out = capsys.readouterr().out
    assert rc == 0 and "bayesft" in out and "acc@1.5" in out
    assert str(tmp_path / "cli" / "report.md") in out


def test_main_reports_corrupt_file(run_dir: Path, capsys) -> None:
    (run_dir / "robustness.parquet").write_bytes(b"\x00garbage")
    assert main([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "robustness.parquet" in err and "corrupt" in err


def test_markdown_table_formats_missing() -> None:
    text = markdown_table(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x", None]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.235 | x |", "| – | – |"]


def test_report_notes_skipped_figure(tmp_path: Path) -> None:
    trials = pd.DataFrame({"trial_id": ["a"], "trial_index": [0], "status": ["failed"],
                           "dropout_fc1": [0.1]})
    write_table(trials, str(tmp_path / "failed"), "trials")
    text = write_report(tmp_path / "failed", decision_boundaries=False).read_text(encoding="utf-8")
    assert "No completed trial" in text and "_Figure skipped:" in text
    assert not (tmp_path / "failed" / "report" / "dropout_rates.png").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_report_files_honour_umask(run_dir: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = write_report(run_dir, decision_boundaries=False)
    finally:
        os.umask(old)
    for name in ("report.md", "report.html", "convergence.png"):
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o666 & ~umask
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left behind


def test_report_maximised_objective(tmp_path: Path) -> None:
    trials = fabricate_trials()
    trials = with_objective(trials.assign(objective_mean=1 - trials["objective_mean"]),
                            "grid_accuracy", "max")
    write_raw(trials, tmp_path / "acc", "trials")
    text = write_report(tmp_path / "acc", decision_boundaries=False).read_text(encoding="utf-8")
    assert "## Best 5 trials (highest grid accuracy)" in text
    assert "grid accuracy (fraction), maximised (higher is better)" in text
    assert "| 1 | t3 | 3 | 0.5 |" in text and "| 2 | t5 | 5 | 0.4 |" in text
    assert "| all | 5 | 0.1 | 0.5 | 3 | t3 |" in text
    assert key_table(load_run(tmp_path / "acc"))["trial_id"].tolist()[:2] == ["t3", "t5"]


def _record_bounds(monkeypatch: pytest.MonkeyPatch) -> list:
    seen, real = [], figures.plot_dropout_rates

    def spy(*args, **kwargs):
        seen.append(kwargs.get("bounds", "default"))
        return real(*args, **kwargs)

    monkeypatch.setattr(figures, "plot_dropout_rates", spy)
    return seen


def test_report_draws_search_bounds(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record_bounds(monkeypatch)
    write_report(run_dir, decision_boundaries=False)  # no search_config.json: no bounds
    (run_dir / "search_config.json").write_text(json.dumps({"trials": 9, "bounds": [0.1, 0.6]}))
    write_report(run_dir, decision_boundaries=False)
    assert seen == [None, (0.1, 0.6)]
    (run_dir / "search_config.json").write_text("{not json")
    with pytest.raises(UserInputError, match="search_config.json"):
        write_report(run_dir, decision_boundaries=False)
