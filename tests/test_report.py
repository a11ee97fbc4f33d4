"""Tests of analysis.report: report.md, the key table and the CLI entry point."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from analysis import key_table, load_run, markdown_table, write_report
from analysis.report import main

# the fabricated-run helpers live in test_analysis.py; load them whatever pytest's import mode
_spec = importlib.util.spec_from_file_location("_analysis_fixtures",
                                               Path(__file__).with_name("test_analysis.py"))
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
fabricate_run = _fixtures.fabricate_run

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
    assert "| 1 | t3 | 0.5 |" in text and "fc1" in text  # best trial with its dropout vector
    assert "| bayesft | 0.873 | 6 |" in text  # AUC
    assert "| all | 5 | 0.9 | 0.5 | 4 | t3 |" in text  # convergence summary


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
    import pandas as pd

    text = markdown_table(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x", None]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.235 | x |", "| – | – |"]


def test_report_notes_skipped_figure(tmp_path: Path) -> None:
    import pandas as pd

    from bayesft_tune.storage import write_table

    trials = pd.DataFrame({"trial_id": ["a"], "trial_index": [0], "status": ["failed"],
                           "dropout_fc1": [0.1]})
    write_table(trials, str(tmp_path / "failed"), "trials")
    text = write_report(tmp_path / "failed", decision_boundaries=False).read_text(encoding="utf-8")
    assert "No completed trial" in text and "_Figure skipped:" in text
    assert not (tmp_path / "failed" / "report" / "dropout_rates.png").exists()
