"""Behaviour pin: one seeded search (mnist_mlp, 3 trials x 2 epochs, concurrency 1, local CPU)
gives the same trial table, selection and test table as the fixture recorded before a refactor.

Pinned: the deterministic columns only (knobs, objective values, accuracies, losses, epochs,
status, Ax trial index); wall times, paths, Ray trial ids and timestamps are dropped, and
trials are keyed by their Ax trial index. At concurrency 1 the search is sequential, Ax is
seeded and every torch computation runs on one CPU thread: on one machine two runs at the
fixture's commit gave bit-identical files. Another CPU model rounds float32 reductions
differently, so floats are compared to :data:`REL` and everything else exactly.

Regenerate (only for an intended change of behaviour, and say so in the commit):

    .venv/bin/python tests/test_behaviour_pin.py --write
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.runner import run_search

FIXTURE = Path(__file__).parent / "fixtures" / "behaviour_pin_mnist_mlp.json"
SETTINGS = dict(task="mnist_mlp", trials=3, concurrency=1, epochs=2, samples=4, robustness_samples=4,
                seed=0, data_seed=0, verbose=False)
TRIAL_COLUMNS = ("trial_index", "status", "objective_name", "objective_direction", "objective_mean",
                 "objective_sem", "drifted_accuracy", "drifted_accuracy_sem", "clean_accuracy", "clean_loss",
                 "train_loss", "epochs", "target_sigma", "samples", "seed", "data_seed")
KNOB_PREFIXES = ("dropout_", "width_")
KNOB_COLUMNS = ("noise_injection", "activation", "norm", "lr", "weight_decay")
REL = 1e-5
"""Relative tolerance of a float. Two machines (the fixture's, and a 2-core AMD EPYC): losses
differed by up to 3e-7 (relative), accuracies, objectives and knobs not at all; a change of
behaviour moves a loss far more."""


def _plain(value):
    """JSON-safe scalar: floats exactly (repr round-trips), NA as None."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return value


def _records(frame: pd.DataFrame, columns) -> list[dict]:
    return [{c: _plain(row[c]) for c in columns} for _, row in frame.iterrows()]


def pinned_tables(storage: str) -> dict:
    """Run the pinned search under ``storage`` and return its deterministic content."""
    outcome = run_search(SearchConfig(**SETTINGS, storage_path=storage, name="pin"))
    trials = outcome.trials.sort_values("trial_index").reset_index(drop=True)
    knobs = [c for c in trials.columns if c.startswith(KNOB_PREFIXES) or c in KNOB_COLUMNS]
    index = dict(zip(trials.trial_id, trials.trial_index.astype(int)))
    selection = outcome.selection.assign(trial_index=outcome.selection.trial_id.map(index))
    robustness = outcome.robustness.assign(trial_index=outcome.robustness.trial_id.map(index))
    return {
        "settings": SETTINGS,
        "trials": _records(trials, [*TRIAL_COLUMNS, *sorted(knobs)]),
        "selection": _records(selection, ["trial_index", "observed_rank", "observed", "reselected",
                                          "reselected_sem", "clean_accuracy", "feasible", "chosen"]),
        "robustness": _records(robustness.sort_values(["method", "sigma"]),
                               ["method", "trial_index", "sigma", "samples", "accuracy_mean", "accuracy_std",
                                "loss_mean", "loss_std"]),
        "reference_clean_accuracy": _plain(outcome.reference_clean_accuracy),
    }


def mismatches(got: list[dict], expected: list[dict]) -> list[str]:
    """Where two pinned tables differ: floats beyond :data:`REL`, anything else at all."""
    if len(got) != len(expected):
        return [f"{len(got)} rows, expected {len(expected)}"]
    found = []
    for i, (row, pinned) in enumerate(zip(got, expected)):
        for key in sorted(set(row) | set(pinned)):
            a, b = row.get(key), pinned.get(key)
            floats = isinstance(a, float) and isinstance(b, float)
            if not (math.isclose(a, b, rel_tol=REL, abs_tol=1e-12) if floats else a == b):
                found.append(f"row {i} {key}: {a!r}, pinned {b!r}")
    return found


def test_pinned_tables_match_floats_to_a_relative_tolerance_and_the_rest_exactly():
    pinned = [{"trial_index": 0, "clean_loss": 0.8261729125976562, "status": "completed", "clean_accuracy": 0.838}]
    rounded = [{**pinned[0], "clean_loss": 0.8261729736328125}]  # the two CPU models' values
    assert mismatches(rounded, pinned) == []
    assert mismatches([{**pinned[0], "clean_loss": 0.8262}], pinned) == [
        "row 0 clean_loss: 0.8262, pinned 0.8261729125976562"]
    assert mismatches([{**pinned[0], "clean_accuracy": 0.84}], pinned) == ["row 0 clean_accuracy: 0.84, pinned 0.838"]
    assert mismatches([{**pinned[0], "status": "error"}], pinned) == ["row 0 status: 'error', pinned 'completed'"]
    assert mismatches([{**pinned[0], "trial_index": 1}], pinned) == ["row 0 trial_index: 1, pinned 0"]
    assert mismatches([], pinned) == ["0 rows, expected 1"]


@pytest.mark.slow
def test_the_seeded_search_reproduces_the_pinned_tables(ray_session, tmp_path):
    expected = json.loads(FIXTURE.read_text())
    got = json.loads(json.dumps(pinned_tables(str(tmp_path))))
    assert got["settings"] == expected["settings"]
    for table in ("trials", "selection", "robustness"):
        assert mismatches(got[table], expected[table]) == [], table
    assert got["reference_clean_accuracy"] == expected["reference_clean_accuracy"]


if __name__ == "__main__":  # regenerate the fixture (see the module docstring)
    import tempfile

    import ray
    import torch

    torch.set_num_threads(1)  # as tests/conftest.py
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RAY_TMPDIR"] = tmp
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        tables = pinned_tables(os.path.join(tmp, "runs"))
        ray.shutdown()
    text = json.dumps(tables, indent=1) + "\n"
    if "--write" in sys.argv:
        FIXTURE.parent.mkdir(exist_ok=True)
        FIXTURE.write_text(text)
    else:
        sys.stdout.write(text)
