"""The final job cut into units: the same numbers in parts, on any number of threads, with
units scored ahead or not, and the tail callback that starts scoring ahead."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from bayesft_tune.evaluation import as_batches, evaluate_under_drift
from bayesft_tune.mc_parts import Part, draw_states, evaluate_part, join_parts, plan_parts
from bayesft_tune.run_dir import RUN_DIR_ENV
from bayesft_tune.search.config import SearchConfig
from bayesft_tune.search.driver_jobs import Prepared, ahead_job, final_job, ranked_trials
from bayesft_tune.search.tail import Ahead, TailScorer
from bayesft_tune.search.tuner import search_spec
from bayesft_tune.tasks import get_task
from bayesft_tune.tasks.checkpoint import build_network
from bayesft_tune.tasks.final import Candidate, FinalJob, run_final, score_ahead
from bayesft_tune.tasks.final_parts import UnitCache
from bayesft_tune.tasks.space import Knobs


def _net_and_data(seed: int = 0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    data = TensorDataset(torch.randn(300, 6), torch.randint(0, 3, (300,)))
    return net, data


@pytest.mark.parametrize("sigmas,samples,chunk", [((0.0, 0.3, 0.9, 1.5), 7, 2), ((0.6, 0.0, 0.6), 5, 8),
                                                  ((0.0,), 3, 2), ((1.2, 0.3), 9, 4)])
def test_parts_in_any_order_and_thread_join_to_the_loops_rows(sigmas, samples, chunk):
    torch.set_num_threads(1)
    net, data = _net_and_data()
    whole = evaluate_under_drift(net, data, list(sigmas), samples=samples, seed=11, batch_size=128)
    parts = plan_parts(sigmas, samples, chunk)
    states = draw_states(net, samples, "lognormal", 11, chunk)
    batches = as_batches(data, 128, torch.device("cpu"))
    with ThreadPoolExecutor(3, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        frames = list(pool.map(lambda p: evaluate_part(net, batches, p, "lognormal", states), parts[::-1]))
    pd.testing.assert_frame_equal(join_parts(frames, sigmas), whole, check_exact=True)


def test_plan_parts_scores_clean_once_and_covers_every_sample_of_each_sigma():
    parts = plan_parts((0.0, 0.5, 1.0), 10, 4)
    assert parts[0] == Part(0.0, 0, 10)
    for sigma in (0.5, 1.0):
        ranges = [(p.start, p.stop) for p in parts if p.sigma == sigma]
        assert ranges == [(0, 4), (4, 8), (8, 10)]


def test_unit_cache_computes_each_key_once_across_threads():
    cache, calls, gate = UnitCache(), [], threading.Event()

    def unit():
        calls.append(1)
        gate.wait(5)
        return 42
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(cache.value, ("part", "a"), unit) for _ in range(4)]
        gate.set()
        assert [f.result() for f in futures] == [42] * 4
    assert len(calls) == 1


def _candidates(task_name: str = "mnist_mlp") -> tuple[Candidate, ...]:
    task, out = get_task(task_name), []
    for i, (rates, widths) in enumerate((((0.1, 0.2), (64, 32)), ((0.3, 0.0), (96, 24)), ((0.0, 0.5), (48, 40)))):
        torch.manual_seed(i)
        knobs = Knobs(dropout=rates, widths=widths)
        net = build_network(task, knobs)
        state = {"trainer": {"model": net.state_dict()}, "task": task_name, "knobs": knobs.to_dict()}
        out.append(Candidate(f"t{i}", 1.0 - 0.1 * i, state))
    return tuple(out)


def _job(threads: int, top=()) -> FinalJob:
    cfg = SearchConfig(trials=4, concurrency=2, epochs=1, samples=3, robustness_samples=5,
                       robustness_sigmas=(0.0, 0.6, 1.2), erm_baseline=False, verbose=False)
    job = final_job(cfg, search_spec(cfg), top or _candidates(), Prepared(None, None), None)
    return dataclasses.replace(job, threads=threads)


def test_final_job_tables_do_not_depend_on_threads_or_on_units_scored_ahead():
    plain = run_final(_job(threads=1))
    two = run_final(_job(threads=2))
    cache = UnitCache(stage="ahead")  # ahead with another (partial) plan: the two worse candidates
    score_ahead(_job(threads=1, top=_candidates()[1:]), cache, lambda: True)
    cache.stage = "final"
    ahead = run_final(_job(threads=2), cache)
    for frames in (two, ahead):
        for got, want in zip(frames, plain):
            pd.testing.assert_frame_equal(got, want, check_exact=True)
    taken, scored = cache.final_units()
    assert taken > 0 and scored > 0  # the two candidates' re-scores came from ahead, the rest not


def test_scoring_ahead_stops_between_units_when_told():
    cache, budget = UnitCache(stage="ahead"), iter(range(3))
    score_ahead(_job(threads=1), cache, lambda: next(budget, None) is not None)
    cache.stage = "final"
    run_final(_job(threads=1), cache)
    assert cache.final_units()[0] == 3  # three units scored ahead, then it stopped


def _trial(trial_id: str, status: str, checkpoint=None) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, status=status, checkpoint=checkpoint)


class _Recorder:
    def __init__(self, rows):
        self.trials = {r["trial_id"]: r for r in rows}


def test_tail_scorer_replans_only_when_every_trial_started_and_a_slot_stays_free(monkeypatch):
    from bayesft_tune.search import tail

    plans = []
    ahead = SimpleNamespace(replan=plans.append)
    monkeypatch.setenv(RUN_DIR_ENV, "/runs/x")
    monkeypatch.setitem(tail._AHEAD, "/runs/x", ahead)
    rows = [{"trial_id": t, "status": "completed", "objective_mean": v, "clean_accuracy": 0.9}
            for t, v in (("a", 0.5), ("b", 0.7), ("c", 0.6))]
    scorer = TailScorer(_Recorder(rows), lambda f: ranked_trials(f, "max"), top_k=2, total=4, concurrency=2)
    done = [_trial(t, "TERMINATED", checkpoint=f"ck-{t}") for t in "abc"]
    scorer.on_trial_complete(0, done, done[-1])  # 3 of 4 trials exist: more will start
    scorer.on_trial_complete(0, [*done, _trial("d", "PENDING")], done[-1])  # d waits for a slot
    assert plans == []
    scorer.on_trial_complete(0, [*done, _trial("d", "RUNNING")], done[-1])
    assert plans == [[("b", 0.7, "ck-b"), ("c", 0.6, "ck-c")]]


def test_ahead_job_only_where_the_final_job_runs_in_this_process_beside_a_tail():
    spec_of = lambda cfg: search_spec(cfg)  # noqa: E731
    two = SearchConfig(trials=4, concurrency=2, verbose=False)
    one = SearchConfig(trials=4, concurrency=1, verbose=False)
    cluster = SearchConfig(trials=4, concurrency=2, address="127.0.0.1:6379", verbose=False)
    assert ahead_job(two, spec_of(two), Prepared(None, None), None) is not None
    assert ahead_job(one, spec_of(one), Prepared(None, None), None) is None
    assert ahead_job(cluster, spec_of(cluster), Prepared(None, None), None) is None


def test_ahead_thread_scores_the_plan_and_stops(tmp_path):
    cands = _candidates()
    ckpts = {}
    for c in cands:  # real checkpoint directories, as Tune hands them to the callback
        d = tmp_path / c.trial_id
        d.mkdir()
        torch.save({**c.state, "rates": list(c.state["knobs"]["dropout"])}, d / "trial.pt")
        ckpts[c.trial_id] = SimpleNamespace(as_directory=lambda d=d: contextlib.nullcontext(str(d)))
    job = _job(threads=1)
    ahead = Ahead(dataclasses.replace(job, candidates=()), UnitCache(stage="ahead"))
    ahead.replan([(c.trial_id, c.objective, ckpts[c.trial_id]) for c in cands])
    assert ahead.wait_idle(timeout=120)  # the whole plan: re-scores, then the chosen one's test parts
    ahead.stop()
    ahead.cache.stage = "final"
    run_final(job, ahead.cache)
    taken, scored = ahead.cache.final_units()
    assert scored == 0 and taken > 0
