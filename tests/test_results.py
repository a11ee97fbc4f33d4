"""Results anyone can regenerate: README sections rendered from ``results/``, raw tables kept
without checkpoints, Holm's correction, pooling refused across code versions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bayesft_tune import UserInputError
from bayesft_tune.paired import holm
from bayesft_tune.provenance import manifest, refuse_mixed
from bayesft_tune.results import DOCUMENTS, SECTION, collect, render_all

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_every_results_section_is_its_rendering_from_results(document):
    text = (ROOT / document).read_text()
    names = [m["name"] for m in SECTION.finditer(text)]
    assert names, f"{document}'s results come from results/ (marked sections)"
    assert all((ROOT / "results" / n / "manifest.json").is_file() for n in names)
    assert render_all(text, figures=False, link=DOCUMENTS[document]) == text, \
        "run: python -m bayesft_tune.results render --write"


def test_collect_keeps_tables_and_leaves_checkpoints(tmp_path):
    out = tmp_path / "out"
    (out / "bayesft-seed0" / "trial_x" / "checkpoint_000000").mkdir(parents=True)
    (out / "bayesft-seed0" / "trial_x" / "checkpoint_000000" / "trial.pt").write_bytes(b"weights")
    (out / "bayesft-seed0" / "trials.parquet").write_bytes(b"t")
    (out / "bayesft-seed0" / "tuner.pkl").write_bytes(b"state")
    (out / "robustness.parquet").write_bytes(b"r")
    (out / "manifest.json").write_text(json.dumps(manifest({"task": "mnist_mlp"}, ["compare"])))
    collect(str(out), str(tmp_path / "kept"))
    kept = sorted(str(p.relative_to(tmp_path / "kept")) for p in (tmp_path / "kept").rglob("*") if p.is_file())
    assert kept == ["manifest.json", "robustness.parquet", "runs/bayesft-seed0/trials.parquet"]
    with pytest.raises(UserInputError, match="no manifest.json"):
        collect(str(tmp_path / "kept" / "runs"), str(tmp_path / "again"))


def test_holm_is_the_step_down_adjustment():
    assert np.allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    assert np.allclose(holm(np.array([0.5, np.nan, 0.001])), [0.5, np.nan, 0.002], equal_nan=True)
    assert holm(np.array([0.4, 0.6])).tolist() == [0.8, 0.8]  # capped at 1, monotone


def test_pooling_runs_of_different_code_or_settings_is_refused():
    a = {"commit": "abc", "settings_hash": "s1"}
    refuse_mixed([a, dict(a)], "merge")
    for other in ({"commit": "abd", "settings_hash": "s1"}, {"commit": "abc", "settings_hash": "s2"},
                  {"commit": "abc-dirty", "settings_hash": "s1"}):
        with pytest.raises(UserInputError, match="different"):
            refuse_mixed([a, other] if not other["commit"].endswith("dirty") else [other, other], "merge")


def test_a_manifest_names_commit_command_machine_and_settings():
    info = manifest({"task": "mnist_mlp", "seeds": 5}, ["bayesft-tune", "compare"])
    assert info["command"] == "bayesft-tune compare" and "cores" in info["machine"]
    assert len(info["commit"]) >= 40 or info["commit"] == "unknown"
    assert info["settings_hash"] == manifest({"seeds": 5, "task": "mnist_mlp"}, [])["settings_hash"]
