"""Every task's trainable on fabricated data: a real 1-trial, 1-epoch Ray Tune search per
task, plus a direct call of each trainable (Tune's report/checkpoint calls recorded by a
stand-in) that checks its reported metrics and its resume from its own checkpoint."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import fabricate

pytestmark = pytest.mark.filterwarnings("ignore:.*official CIFAR-10 files:UserWarning")
from bayesft_tune.objective import Objective
from bayesft_tune.tasks import SMOKE_ENV, TASKS, Space, TrialSpec, get_task

ALL_TASKS = ["mnist_mlp", "mnist_lenet5", "cifar10_alexnet", "cifar10_vgg11", "cifar10_vgg16",
             "cifar10_resnet18", "cifar10_preact_resnet18", "gtsrb_stn", "pennfudan_maskrcnn"]


def test_every_task_is_registered_and_its_smoke_variant_keeps_the_slots(monkeypatch):
    assert set(ALL_TASKS) <= set(TASKS)
    full = {name: get_task(name) for name in ALL_TASKS}
    monkeypatch.setenv(SMOKE_ENV, "1")
    for name, task in full.items():
        smoke = get_task(name)
        assert task.description and task.epochs >= 8 and task.lr > 0
        assert smoke.slots() == task.slots(), name
    assert get_task("pennfudan_maskrcnn").model_kwargs["backbone"] == "tiny"
    assert full["pennfudan_maskrcnn"].model_kwargs["backbone"] == "resnet50_fpn"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Fabricated files of every dataset, in their real on-disk formats."""
    data = tmp_path_factory.mktemp("data")
    fabricate.cifar10(data, per_batch=10, test=10)
    fabricate.gtsrb(data, per_class=3, test=12)
    fabricate.pennfudan(data, n=5)
    return data


class FakeSession:
    """Stands in for Tune inside a direct call of the trainable: records reports, keeps checkpoints."""

    def __init__(self, tmp_path):
        self.reports, self.dirs, self.resume_from, self.tmp = [], [], None, tmp_path

    def report(self, metrics, checkpoint=None):
        import shutil

        from ray import tune

        kept = self.tmp / f"ckpt{len(self.reports)}"
        shutil.copytree(checkpoint.path, kept)
        self.reports.append(metrics)
        self.dirs.append(tune.Checkpoint.from_directory(str(kept)))

    def get_checkpoint(self):
        return self.resume_from


def _config(task: str, data: str) -> dict:
    t = get_task(task)
    spec = TrialSpec(task=task, space=Space(knobs=("dropout", "noise")), epochs=1, batch_size=t.batch_size,
                     lr=t.lr, objective=Objective("grid_accuracy", 0.9, (0.3, 0.9), 2), train_seed=0,
                     select_seed=7, data_dir=data)
    return spec.to_config({**{n: 0.1 for n in t.parameter_names()}, "noise_injection": 0.2})


@pytest.mark.parametrize("task", ALL_TASKS)
def test_trainable_reports_metrics_and_resumes_from_its_checkpoint(data_dir, tmp_path, monkeypatch, task):
    """The real trainable (``run_trial`` and its dispatch), called directly with Tune's API faked."""
    import torch
    from ray import tune

    from trainables import run_trial

    monkeypatch.setenv(SMOKE_ENV, "1")
    session = FakeSession(tmp_path)
    monkeypatch.setattr(tune, "report", session.report)
    monkeypatch.setattr(tune, "get_checkpoint", session.get_checkpoint)
    config = _config(task, str(data_dir))
    run_trial(config)
    assert len(session.reports) == 1
    metrics = session.reports[0]
    assert metrics["epoch"] == 1
    for key in ("drifted_loss", "drifted_loss_sem", "drifted_accuracy", "drifted_accuracy_sem",
                "clean_accuracy", "clean_loss", "train_loss", "grid_accuracy", "grid_accuracy_sem"):
        assert math.isfinite(metrics[key]), key
    assert metrics["drifted_loss_sem"] >= 0 and 0 <= metrics["clean_accuracy"] <= 1
    if task == "pennfudan_maskrcnn":  # objective = 1 - drifted mAP
        assert metrics["drifted_loss"] == pytest.approx(1 - metrics["drifted_accuracy"])
        assert metrics["clean_loss"] == pytest.approx(1 - metrics["clean_accuracy"])
    with session.dirs[0].as_directory() as d:
        state = torch.load(os.path.join(d, "trial.pt"), weights_only=True)
    assert state["task"] == task and state["rates"] == [0.1] * len(get_task(task).slots())
    assert state["knobs"]["noise"] == 0.2 and metrics["knobs"]["dropout"] == [0.1] * len(get_task(task).slots())
    assert state["trainer"]["epochs_done"] == 1
    session.resume_from = session.dirs[0]  # a restarted trial with its checkpoint: nothing left to do
    run_trial(config)
    assert len(session.reports) == 1


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


@pytest.mark.slow
@pytest.mark.parametrize("task", ALL_TASKS)
def test_smoke_search(smoke_env, tmp_path, task):
    """A real 1-trial, 1-epoch Ray Tune search of every task on fabricated data."""
    from bayesft_tune.search.config import SearchConfig
    from bayesft_tune.search.runner import run_search

    cfg = SearchConfig(task=task, data_dir=str(smoke_env), trials=1, concurrency=1, epochs=1, samples=2,
                       robustness_samples=2, robustness_sigmas=(0.0, 0.9), erm_baseline=False, clean_guard=None,
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
    if task == "pennfudan_maskrcnn":  # objective = 1 - drifted mAP
        assert row.objective_mean == pytest.approx(1.0 - row.drifted_accuracy)
    assert len(history) == 1 and history.epoch.iloc[0] == 1
    robust = out.robustness
    assert list(robust.method.unique()) == ["bayesft"] and sorted(robust.sigma) == [0.0, 0.9]
    assert robust.accuracy_mean.between(0, 1).all()
