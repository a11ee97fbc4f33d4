"""Algorithm 1 as a search mode: later trials start from the best finished trial's weights."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.runner import run_search

pytestmark = pytest.mark.slow


def _first_results(run_dir: Path) -> pd.DataFrame:
    """First reported epoch of every trial, from Tune's result.json files."""
    rows = []
    for path in run_dir.glob("*/result.json"):
        first = json.loads(path.read_text().splitlines()[0])
        rows.append({"trial_id": first["trial_id"], "warm_start_from": first["warm_start_from"],
                     "train_loss": first["train_loss"], "clean_loss": first["clean_loss"], "index": first["config"]["ax_trial_index"]})
    return pd.DataFrame(rows).sort_values("index", ignore_index=True)


def test_mode_is_validated():
    with pytest.raises(UserInputError, match="mode"):
        SearchConfig(mode="resume")
    assert SearchConfig().mode == "scratch"


def test_warm_start_trials_load_the_best_previous_checkpoint(ray_session, tmp_path):
    cfg = SearchConfig(trials=4, concurrency=1, epochs=1, samples=2, robustness_samples=2,
                       bounds=(0.0, 0.2), mode="warm_start", erm_baseline=False, storage_path=str(tmp_path), name="ws",
                       verbose=False)
    out = run_search(cfg)
    first = _first_results(tmp_path / "ws")
    assert len(first) == 4 and (out.trials.status == "completed").all()
    assert first.warm_start_from.iloc[0] == ""  # nothing finished yet: from scratch
    earlier = set()
    for _, row in first.iterrows():
        if row["index"] > 0:
            assert row.warm_start_from in earlier  # a trial that had finished before
        earlier.add(row.trial_id)
    # after one epoch, trials that started from trained weights fit better than the scratch one
    assert (first.train_loss.iloc[1:] < 0.8 * first.train_loss.iloc[0]).all()
    assert (first.clean_loss.iloc[1:] < first.clean_loss.iloc[0]).all()
    assert out.best_checkpoint is not None
