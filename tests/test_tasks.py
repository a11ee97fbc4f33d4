"""Every registered task: its smoke variant keeps the slots, and (slow) a real 1-trial, 1-epoch
Ray Tune search on fabricated data. The direct smoke trial of every task's trainable is in
``tests/test_registry_contracts.py``."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:.*official CIFAR-10 files:UserWarning")
from bayesft_tune.tasks import SMOKE_ENV, TASKS, get_task


def test_every_task_is_registered_and_its_smoke_variant_keeps_the_slots(monkeypatch):
    full = {name: get_task(name) for name in TASKS.names()}
    monkeypatch.setenv(SMOKE_ENV, "1")
    for name, task in full.items():
        smoke = get_task(name)
        assert task.description and task.epochs >= 8 and task.lr > 0
        assert smoke.slots() == task.slots(), name
    assert get_task("pennfudan_maskrcnn").model_kwargs["backbone"] == "tiny"
    assert full["pennfudan_maskrcnn"].model_kwargs["backbone"] == "resnet50_fpn"


@pytest.fixture(scope="module")
def smoke_env(data_dir, tmp_path_factory):
    """Fabricated data for every dataset, and a local Ray whose workers run the smoke variants."""
    ray = pytest.importorskip("ray")
    saved = os.environ.get(SMOKE_ENV)
    os.environ[SMOKE_ENV] = "1"
    os.environ["RAY_TMPDIR"] = str(tmp_path_factory.mktemp("raytmp"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {SMOKE_ENV: "1"}})
    yield data_dir
    ray.shutdown()
    if saved is None:
        os.environ.pop(SMOKE_ENV, None)
    else:
        os.environ[SMOKE_ENV] = saved


DETECTION = "pennfudan_maskrcnn"


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS.names())
def test_smoke_search(smoke_env, tmp_path, task):
    """A real 1-trial, 1-epoch Ray Tune search of every task on fabricated data."""
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.runner import run_search

    cfg = SearchConfig(task=task, data_dir=str(smoke_env), trials=1, concurrency=1, epochs=1, samples=2,
                       robustness_samples=2, robustness_sigmas=(0.0, 0.9), erm_baseline=task == DETECTION,
                       clean_guard=None,
                       objective="drifted_loss", verbose=False, storage_path=str(tmp_path), name="smoke")
    out = run_search(cfg)
    trials = pd.read_parquet(tmp_path / "smoke" / "trials.parquet")
    history = pd.read_parquet(tmp_path / "smoke" / "history.parquet")
    assert len(trials) == 1 and trials.status.iloc[0] == "completed", trials.error.iloc[0]
    row = trials.iloc[0]
    assert row.task == task and row.epochs == 1
    names = get_task(task).parameter_names()
    assert all(0.0 <= row[n] <= 0.8 for n in names)
    for col in ("objective_mean", "objective_sem", "clean_accuracy", "drifted_accuracy", "train_loss"):
        assert math.isfinite(row[col]), col
    assert 0.0 <= row.clean_accuracy <= 1.0 and 0.0 <= row.drifted_accuracy <= 1.0
    if task == DETECTION:  # objective = 1 - drifted mAP
        assert row.objective_mean == pytest.approx(1.0 - row.drifted_accuracy)
    assert len(history) == 1 and history.epoch.iloc[0] == 1
    robust = out.robustness  # detection's final job also trains its ERM detector (no reference to reuse)
    assert list(robust.method.unique()) == (["bayesft", "erm"] if task == DETECTION else ["bayesft"])
    assert sorted(robust[robust.method == "bayesft"].sigma) == [0.0, 0.9]
    assert robust.accuracy_mean.between(0, 1).all()


def test_every_kind_a_task_may_declare_has_one_implementation():
    from typing import get_args, get_type_hints

    from bayesft_tune.tasks.kinds import KINDS, TaskKind, kind_of
    from bayesft_tune.tasks.task import Task

    declared = set(get_args(get_type_hints(Task)["kind"]))
    assert declared == set(KINDS)
    for name, kind in KINDS.items():
        assert isinstance(kind, TaskKind) and kind.name == name and isinstance(kind.guarded, bool)
    assert {kind_of(get_task(t)).name for t in TASKS.names()} == declared  # both kinds are in use
