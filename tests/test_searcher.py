"""AxSearcher on cheap synthetic objectives (real Ax, no training, no Ray cluster)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.searcher import TRIAL_INDEX_KEY, AxSearcher

NAMES = [f"dropout_fc{i}" for i in range(1, 5)]
OPTIMUM = np.array([0.55, 0.15, 0.7, 0.35])


def objective(cfg: dict) -> float:
    """A drifted-loss-shaped bowl over 4 dropout rates, minimum 0.1 at OPTIMUM."""
    x = np.array([cfg[n] for n in NAMES])
    return 0.1 + float(np.sum((x - OPTIMUM) ** 2 * np.array([4.0, 2.0, 3.0, 1.0])))


def make(method="bo", seed=0, concurrent=1, **kw) -> AxSearcher:
    s = AxSearcher({n: (0.0, 0.8) for n in NAMES}, metric="drifted_loss", mode="min",
                   max_concurrent=concurrent, seed=seed, method=method, **kw)
    s.set_search_properties("drifted_loss", "min", {}, num_samples=100)
    return s


def run(s: AxSearcher, n: int, start: int = 0, rng=None) -> list[float]:
    values = []
    for i in range(start, start + n):
        cfg = s.suggest(f"t{i}")
        v = objective(cfg)
        noisy = v + (rng.normal(0, 0.01) if rng is not None else 0.0)
        s.on_trial_complete(f"t{i}", {"drifted_loss": noisy, "drifted_loss_sem": 0.01})
        values.append(v)
    return values


def test_bo_beats_random_search_at_equal_budget():
    budget, gaps = 18, []
    for seed in range(3):
        bo = min(run(make("bo", seed), budget, rng=np.random.default_rng(seed)))
        rnd = min(run(make("random", seed), budget, rng=np.random.default_rng(seed)))
        gaps.append(rnd - bo)
    assert np.mean(gaps) > 0.0 and sum(g > 0 for g in gaps) >= 2, f"random - BO best: {gaps}"


def test_batch_suggestions_are_distinct_and_pending():
    s = make(concurrent=3, prefetch=False)  # with pre-generation: tests/test_searcher_prefetch.py
    cfgs = [s.suggest(f"t{i}") for i in range(3)]
    assert all(c is not None for c in cfgs)
    assert len({tuple(c[n] for n in NAMES) for c in cfgs}) == 3
    assert s.suggest("t3") is None, "at max_concurrent the searcher waits"
    running = [t for t in s.client._experiment.trials.values() if t.status.name == "RUNNING"]
    assert len(running) == 3 and sorted(c[TRIAL_INDEX_KEY] for c in cfgs) == [0, 1, 2]
    s.on_trial_complete("t0", {"drifted_loss": 1.0, "drifted_loss_sem": 0.1})
    assert s.suggest("t3") is not None


def test_errors_and_non_finite_results_are_failures_and_search_goes_on():
    s = make()
    run(s, 2)
    s.suggest("bad1")
    s.on_trial_complete("bad1", None, error=True)
    s.suggest("bad2")
    s.on_trial_complete("bad2", {"drifted_loss": math.nan, "drifted_loss_sem": 0.1})
    s.suggest("bad3")
    s.on_trial_complete("bad3", {"drifted_loss": 1.0, "drifted_loss_sem": math.inf})
    statuses = [t.status.name for t in s.client._experiment.trials.values()]
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED", "FAILED", "FAILED"]
    assert set(s.failures) == {"bad1", "bad2", "bad3"} and "non-finite" in s.failures["bad2"]
    run(s, 3, start=10)
    assert sum(t.status.name == "COMPLETED" for t in s.client._experiment.trials.values()) == 5


def test_resumed_failed_trial_is_completed_as_new_ax_trial():
    s = make()
    cfg = s.suggest("t0")
    s.on_trial_complete("t0", None, error=True)
    s.on_trial_complete("t0", {"drifted_loss": 0.5, "drifted_loss_sem": 0.01})  # Tune resumed it
    trials = s.client._experiment.trials
    assert [t.status.name for t in trials.values()] == ["FAILED", "COMPLETED"]
    assert trials[1].arm.parameters == {n: cfg[n] for n in NAMES}
    assert "t0" not in s.failures


def test_sem_reaches_ax():
    s = make()
    s.suggest("t0")
    s.on_trial_complete("t0", {"drifted_loss": 0.7, "drifted_loss_sem": 0.05})
    df = s.client._experiment.lookup_data().df
    assert df.loc[df.metric_name == "drifted_loss", "sem"].item() == pytest.approx(0.05)


def test_save_restore_neither_forgets_nor_repeats(tmp_path):
    s = make(seed=3)
    run(s, 7)
    live = s.suggest("t7")  # pending when the driver dies
    s.save(str(tmp_path / "state.pkl"))
    back = make(seed=3)
    back.restore(str(tmp_path / "state.pkl"))
    assert back.suggest("t7") == live, "a pending trial keeps its point"
    back.on_trial_complete("t7", {"drifted_loss": objective(live), "drifted_loss_sem": 0.01})
    new = back.suggest("t8")
    assert new[TRIAL_INDEX_KEY] == 8
    seen = {tuple(round(t.arm.parameters[n], 9) for n in NAMES)
            for t in back.client._experiment.trials.values()}
    assert len(seen) == 9, "no repeated point"
    assert sum(t.status.name == "COMPLETED" for t in back.client._experiment.trials.values()) == 8


def test_pickle_round_trip_keeps_ax_state():
    s = make()
    run(s, 3)
    back = pickle.loads(pickle.dumps(s))
    assert len(back.client._experiment.trials) == 3
    (p1, v1, i1), (p2, v2, i2) = back.best(), s.best()
    assert i1 == i2 and p1 == pytest.approx(p2) and v1 == pytest.approx(v2, rel=1e-9)


def test_best_is_best_observed():
    s = make()
    values = run(s, 6)
    params, value, index = s.best()
    assert value == pytest.approx(min(values))
    assert objective(params) == pytest.approx(min(values))


def test_outcome_constraint_data_and_best_respects_it():
    s = make(outcome_constraints=["clean_accuracy >= 0.9"])
    for i, (loss, acc) in enumerate([(0.2, 0.8), (0.5, 0.95), (0.4, 0.92)]):
        s.suggest(f"t{i}")
        s.on_trial_complete(f"t{i}", {"drifted_loss": loss, "drifted_loss_sem": 0.01,
                                      "clean_accuracy": acc, "clean_accuracy_sem": 0.01})
    assert s.best()[1] == pytest.approx(0.4), "the 0.2 trial violates clean_accuracy >= 0.9"


@pytest.mark.parametrize("kw,match", [
    (dict(mode="minimise"), "mode must be"),
    (dict(max_concurrent=0), "max_concurrent"),
    (dict(parameters={"x": (0.5, 0.1)}), "low < high"),
])
def test_bad_arguments(kw, match):
    args = dict(parameters={"x": (0.0, 0.8)}, metric="drifted_loss", mode="min")
    with pytest.raises(UserInputError, match=match):
        AxSearcher(**{**args, **kw})
