"""Search options beyond the paper: searched noise-injection strength, multi-objective Pareto front."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.schema import PARETO, SCHEMA_VERSION, VERSION_KEY
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.runner import run_search

pytestmark = pytest.mark.slow


def test_options_are_validated():
    with pytest.raises(UserInputError, match="noise_injection_bounds"):
        SearchConfig(search_noise_injection=True, noise_injection_bounds=(0.5, 0.2))
    with pytest.raises(UserInputError, match="multi_objective"):
        SearchConfig(multi_objective=True, objective="grid_accuracy")


def _dominated(point: pd.Series, others: pd.DataFrame) -> bool:
    better_or_equal = (others.objective_mean <= point.drifted_loss_mean) & \
        (others.clean_accuracy >= point.clean_accuracy_mean)
    strictly = (others.objective_mean < point.drifted_loss_mean) | \
        (others.clean_accuracy > point.clean_accuracy_mean)
    return bool((better_or_equal & strictly).any())


def test_noise_injection_searched_and_pareto_front_written(ray_session, tmp_path):
    cfg = SearchConfig(trials=4, concurrency=2, epochs=1, samples=2, robustness_samples=2,
                       search_noise_injection=True, noise_injection_bounds=(0.0, 0.8),
                       space=("dropout",), training="clean", objective="drifted_loss", clean_guard=None,
                       multi_objective=True, erm_baseline=False, storage_path=str(tmp_path),
                       name="moo", verbose=False)
    out = run_search(cfg)
    trials = pd.read_parquet(tmp_path / "moo" / "trials.parquet")
    assert trials.noise_injection.between(0.0, 0.8).all() and trials.noise_injection.nunique() == 4
    pareto = pd.read_parquet(tmp_path / "moo" / "pareto.parquet")
    meta = pq.read_schema(tmp_path / "moo" / "pareto.parquet").metadata
    assert meta[VERSION_KEY.encode()] == str(SCHEMA_VERSION).encode() and list(pareto.columns) == list(PARETO)
    assert 1 <= len(pareto) <= 4 and set(pareto.trial_id) <= set(trials.trial_id)
    done = trials[trials.status == "completed"]
    for _, point in pareto.iterrows():
        row = done[done.trial_id == point.trial_id].iloc[0]
        assert point.drifted_loss_mean == pytest.approx(row.objective_mean)
        assert point.clean_accuracy_mean == pytest.approx(row.clean_accuracy)
        assert "noise_injection" in json.loads(point.parameters)
        assert not _dominated(point, done)
    front_ids = set(pareto.trial_id)
    for _, row in done[~done.trial_id.isin(front_ids)].iterrows():  # everything else is dominated
        pt = pd.Series({"drifted_loss_mean": row.objective_mean, "clean_accuracy_mean": row.clean_accuracy})
        assert _dominated(pt, pareto.rename(columns={"drifted_loss_mean": "objective_mean",
                                                     "clean_accuracy_mean": "clean_accuracy"}))
    png = tmp_path / "moo" / "pareto.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.pareto is not None
