"""AxSearcher pre-generation, save/restore around it, and composed parts (real Ax, small, seeded)."""

from __future__ import annotations

import math
import pickle
import threading
import time

import pytest
from ax.api import Client

from bayesft_tune.search.extensions import ExtendedAxSearcher, MultiObjective, WarmStart, search_parts
from bayesft_tune.search.searcher import TRIAL_INDEX_KEY, AxSearcher
from test_searcher import NAMES, make, objective

OK = {"drifted_loss_sem": 0.01}


def done(s: AxSearcher, trial_id: str, cfg: dict, **extra) -> None:
    s.on_trial_complete(trial_id, {"drifted_loss": objective(cfg), **OK, **extra})


def point(cfg: dict) -> tuple:
    return tuple(round(cfg[n], 9) for n in NAMES)


def ax_status(s: AxSearcher) -> dict[int, str]:
    s.wait()
    return {i: t.status.name for i, t in s.client._experiment.trials.items()}


def consistent(s: AxSearcher) -> None:
    """Every Ax trial is handed out once, queued, or abandoned; RUNNING = live + queued."""
    status = ax_status(s)
    handed = list(s.ledger.index.values())
    queued = [index for index, _, _ in s.ledger.queue]
    assert len(handed) == len(set(handed)) and not set(handed) & set(queued)
    assert {i for i, st in status.items() if st == "RUNNING"} == set(s.ledger.live.values()) | set(queued)
    assert all(status[i] == "ABANDONED" for i in set(status) - set(handed) - set(queued))
    assert len({point(t.arm.parameters) for t in s.client._experiment.trials.values()}) == len(status)


@pytest.fixture
def gate(monkeypatch):
    """Holds the prefetch worker inside ``get_next_trials`` until released (Tune's thread runs free)."""
    entered, release = threading.Event(), threading.Event()
    original = Client.get_next_trials

    def gated(self, *args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            entered.set()
            assert release.wait(30), "test never released the worker"
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Client, "get_next_trials", gated)
    yield entered, release
    release.set()


def test_free_slot_takes_the_ready_candidate_without_waiting():
    s = make(concurrent=2, initialization_budget=3)
    served = {}
    for i in range(2):
        served[f"t{i}"] = s.suggest(f"t{i}")
    assert len(s.blocking_seconds) == 1, "the first batch is generated in Tune's thread"
    for i in range(2, 6):
        s.wait()  # the candidate is ready before the slot frees
        assert len(s.ledger.queue) == 1 and ax_status(s)[s.ledger.queue[0][0]] == "RUNNING", "pending in Ax while queued"
        done(s, f"t{i - 2}", served[f"t{i - 2}"])
        blocking = len(s.blocking_seconds)
        served[f"t{i}"] = s.suggest(f"t{i}")
        assert served[f"t{i}"] is not None and len(s.blocking_seconds) == blocking, "no GP step in Tune's thread"
    assert len(s.generation_seconds) >= 5
    for cfg in served.values():
        assert all(0.0 <= cfg[n] <= 0.8 for n in NAMES)
    assert len({point(c) for c in served.values()}) == 6
    assert sorted(c[TRIAL_INDEX_KEY] for c in served.values()) == list(range(6))
    consistent(s)


def test_slot_waits_for_no_gp_step_in_flight_and_completion_is_deferred(gate):
    entered, release = gate
    s = make(concurrent=2, initialization_budget=20)
    a, b = s.suggest("t0"), s.suggest("t1")
    assert entered.wait(30)
    done(s, "t0", a)  # the client is busy: recorded, handed to Ax before the next generation
    blocked = len(s.blocking_seconds)
    assert s.suggest("t2") is None, "a running trial: Tune asks again later"
    assert not release.is_set() and s.ledger.inbox and "t0" not in s.ledger.live
    time.sleep(0.3)  # the free slot waits for the generation in flight ...
    release.set()
    s.wait()
    c = s.suggest("t2")
    assert c[TRIAL_INDEX_KEY] == 2 and ax_status(s)[0] == "COMPLETED"
    assert len(s.blocking_seconds) == blocked + 1 and s.blocking_seconds[-1] >= 0.3, "... and that wait is counted"
    consistent(s)


def test_stale_candidate_is_abandoned_and_regenerated():
    s = make(concurrent=3, initialization_budget=20)
    cfgs = {f"t{i}": s.suggest(f"t{i}") for i in range(3)}
    s.wait()
    stale = s.ledger.queue[0][0]
    done(s, "t0", cfgs["t0"])
    done(s, "t1", cfgs["t1"])  # two completions since the candidate was generated
    first = s.suggest("t3")
    if first is None:  # t2 runs: the fresh candidate comes from the worker
        s.wait()
        first = s.suggest("t3")
    assert first[TRIAL_INDEX_KEY] != stale and ax_status(s)[stale] == "ABANDONED"
    assert stale not in s.ledger.index.values()
    consistent(s)


def test_save_restore_mid_prefetch_neither_loses_nor_duplicates(gate):
    entered, release = gate
    s = make(concurrent=2, initialization_budget=20)
    a, b = s.suggest("t0"), s.suggest("t1")
    assert entered.wait(30)
    done(s, "t0", a)
    threading.Timer(0.3, release.set).start()
    started = time.perf_counter()
    blob = pickle.dumps(s)  # waits for the generation in flight, never saves half of it
    assert release.is_set() and time.perf_counter() - started >= 0.2
    back = pickle.loads(blob)
    assert back.pregen.future is None and back.pregen.executor is None
    assert [i for i, _, _ in back.ledger.queue] == [2], "the prefetched candidate is saved queued"
    assert ax_status(back) == {0: "COMPLETED", 1: "RUNNING", 2: "RUNNING"}
    assert back.suggest("t1") == b, "a running trial keeps its point"
    c_back, c_live = back.suggest("t2"), s.suggest("t2")
    assert c_back == c_live and c_back[TRIAL_INDEX_KEY] == 2, "handed out once, after the resume"
    for searcher in (back, s):
        searcher.wait()
        done(searcher, "t1", b)
        d = searcher.suggest("t3")
        assert d[TRIAL_INDEX_KEY] == 3
        consistent(searcher)


def test_save_file_round_trip_while_worker_idle(tmp_path):
    s = make(concurrent=2, initialization_budget=20)
    a, _ = s.suggest("t0"), s.suggest("t1")
    s.save(str(tmp_path / "state.pkl"))
    back = make(concurrent=2, initialization_budget=20)
    back.restore(str(tmp_path / "state.pkl"))
    s.wait()
    assert [i for i, _, _ in back.ledger.queue] in ([], [2])
    done(back, "t0", a)
    back.wait()
    c = back.suggest("t2") or (back.wait(), back.suggest("t2"))[1]
    assert c[TRIAL_INDEX_KEY] == 2
    consistent(back)


def test_concurrency_one_is_unchanged_by_prefetch():
    runs = []
    for prefetch in (True, False):
        s = make(concurrent=1, initialization_budget=2, prefetch=prefetch)
        cfgs = []
        for i in range(4):  # 2 Sobol, 2 GP steps
            cfg = s.suggest(f"t{i}")
            assert s.suggest(f"x{i}") is None
            done(s, f"t{i}", cfg)
            cfgs.append(cfg)
        assert s.pregen.executor is None, "no worker at concurrency 1"
        runs.append(cfgs)
    assert runs[0] == runs[1]


def test_non_finite_results_are_failures_with_prefetch(gate):
    entered, release = gate
    s = make(concurrent=2, initialization_budget=20)
    a, b = s.suggest("t0"), s.suggest("t1")
    assert entered.wait(30)
    s.on_trial_complete("t0", {"drifted_loss": math.nan, **OK})
    assert "non-finite" in s.failures["t0"], "recorded at once, for Tune's tables"
    release.set()
    s.wait()
    s.suggest("t2")
    s.on_trial_complete("t1", {"drifted_loss": 1.0, "drifted_loss_sem": math.inf})
    s.on_trial_complete("t2", None, error=True)
    status = ax_status(s)
    assert [status[i] for i in range(3)] == ["FAILED", "FAILED", "FAILED"]
    assert set(s.failures) == {"t0", "t1", "t2"}
    cfg = s.suggest("t3") or (s.wait(), s.suggest("t3"))[1]
    done(s, "t3", cfg)
    assert s.best()[2] == cfg[TRIAL_INDEX_KEY]


def test_parts_compose_warm_start_and_multi_objective():
    from bayesft_tune.search.extensions import BestCheckpointBoard

    board = BestCheckpointBoard(key="parts-test")
    board.best = ("trial_a", 0.3, "trial_a/checkpoint_000001")
    s = AxSearcher({n: (0.0, 0.8) for n in NAMES}, parts=search_parts("parts-test", multi_objective=True),
                   seed=0, initialization_budget=20)
    assert [type(p) for p in s.parts] == [WarmStart, MultiObjective]
    assert {k for k in vars(ExtendedAxSearcher) if not k.startswith("__")} == set(), "legacy restore only"
    cfg = s.suggest("t0")
    assert cfg["warm_start_from"] == "trial_a" and cfg["warm_start_checkpoint"].endswith("000001")
    s.on_trial_complete("t0", {"drifted_loss": 0.5, **OK, "clean_accuracy": 0.9})
    front = s.client.get_pareto_frontier(use_model_predictions=False)
    assert len(front) == 1 and front[0][1]["clean_accuracy"][0] == pytest.approx(0.9)
    same = AxSearcher({n: (0.0, 0.8) for n in NAMES}, parts=[MultiObjective()], seed=0, initialization_budget=20)
    assert same.client._experiment.optimization_config.is_moo_problem


def test_state_saved_before_prefetch_still_restores():
    s = AxSearcher({n: (0.0, 0.8) for n in NAMES}, parts=search_parts(), seed=0, initialization_budget=20,
                   max_concurrent=2)
    s.set_search_properties("drifted_loss", "min", {}, num_samples=10)
    a, b = s.suggest("t0"), s.suggest("t1")
    s.wait()
    done(s, "t0", a)
    state = s.__getstate__()
    legacy = {k: v for k, v in state.items() if k not in
              ("parts", "prefetch", "_arms", "_status", "_inbox", "_arrivals", "_no_data_at", "_version",
               "blocking_seconds")}
    legacy["_queue"] = [(i, p) for i, p, _ in state["_queue"]]
    legacy["board"], legacy["multi_objective"] = None, False
    back = ExtendedAxSearcher.__new__(ExtendedAxSearcher)
    back.__setstate__(legacy)
    assert back.parts == [] and back.suggest("t1") == b
    assert back.ledger.status == {0: "COMPLETED", 1: "RUNNING", 2: "RUNNING"}
    assert back.suggest("t2")[TRIAL_INDEX_KEY] == 2
    consistent(back)


def test_the_gp_steps_of_a_search_run_numpy_and_scipy_blas_on_one_thread():
    """OpenBLAS's spare threads spin after each call: ~4 core-s per default search, taken from trials."""
    from threadpoolctl import threadpool_info

    from bayesft_tune.search.searcher import one_blas_thread

    def blas_threads() -> dict[str, int]:
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    with one_blas_thread():
        inside = blas_threads()
    after = blas_threads()
    assert inside and set(inside.values()) == {1}, inside  # SciPy's (loaded with Ax) and NumPy's alike
    assert after.keys() == inside.keys()
    with one_blas_thread():
        pass
    assert blas_threads() == after  # the previous limits come back


def test_the_searcher_holds_its_parts_instead_of_inheriting_them():
    from ray.tune.search import Searcher

    from bayesft_tune.search.searcher import AxLedger, Pregenerator

    s = AxSearcher({n: (0.0, 0.8) for n in NAMES}, max_concurrent=16)
    assert AxSearcher.__bases__ == (Searcher,)
    assert isinstance(s.ledger, AxLedger) and isinstance(s.pregen, Pregenerator)
    assert (s.pregen.stale_limit(), s.pregen.depth()) == (1, 1)
    s.set_max_concurrency(64)  # the policy follows the slots: more completions tolerated, more queued
    assert (s.pregen.stale_limit(), s.pregen.depth()) == (7, 7)
