"""Algorithm 1 as a search mode: later trials start from the best finished trial's weights."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.runner import run_search

pytestmark = pytest.mark.slow


def _first_results(run_dir: Path) -> pd.DataFrame:
    """First reported epoch of every trial, with its warm-start source, from the run's tables."""
    trials = pd.read_parquet(run_dir / "trials.parquet")[["trial_id", "trial_index", "warm_start_from"]]
    history = pd.read_parquet(run_dir / "history.parquet")
    first = history[history.epoch == 1][["trial_id", "train_loss", "clean_loss"]]
    out = trials.merge(first, on="trial_id").rename(columns={"trial_index": "index"})
    return out.sort_values("index", ignore_index=True)


def test_mode_is_validated():
    with pytest.raises(UserInputError, match="mode"):
        SearchConfig(mode="resume")
    assert SearchConfig().mode == "scratch"
    with pytest.raises(UserInputError, match="architecture"):
        SearchConfig(mode="warm_start", space=("dropout", "width"))


def test_warm_start_trials_load_the_best_previous_checkpoint(ray_session, tmp_path):
    cfg = SearchConfig(trials=4, concurrency=1, epochs=1, samples=2, robustness_samples=2, space=("dropout",),
                       training="clean", bounds=(0.0, 0.2), mode="warm_start", erm_baseline=False,
                       clean_guard=None, storage_path=str(tmp_path), name="ws", verbose=False)
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
    assert out.best is not None and not out.selection.empty
