"""Contracts every registered item must pass, parametrised over the registries themselves.

Every registry: filled, unknown names list the valid ones.
Models: dropout slots, forward/backward with dropout, drift never touches the original.
Datasets: shapes and dtypes, disjoint train/val/test splits, missing files name the fix.
Methods: train a tiny network for one epoch and are scored under drift.
Tasks: one smoke trial through the real trainable (Tune's calls faked), resumed from its checkpoint.
A new registration is tested here without editing this file (a dataset needs its fabricator
in ``tests/fabricate.py``).
"""

from __future__ import annotations

import math
import os

import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from bayesft_tune import UserInputError, add_dropout, dropout_rates, dropout_slots, evaluate_under_drift, load_data
from bayesft_tune.data import DATASETS
from bayesft_tune.detection import evaluate_detection_under_drift
from bayesft_tune.drift import DRIFTS, get_drift
from bayesft_tune.methods import METHODS, MethodConfig
from bayesft_tune.models import MODELS, mlp
from bayesft_tune.objective import Objective
from bayesft_tune.tasks import SMOKE_ENV, TASKS, Space, TrialSpec, get_task

pytestmark = pytest.mark.filterwarnings("ignore:.*official CIFAR-10 files:UserWarning")
RATE, SIGMA = 0.3, 0.5
REGISTRIES = {"drift": DRIFTS, "model": MODELS, "dataset": DATASETS, "method": METHODS, "task": TASKS}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_registry_is_filled_and_unknown_names_list_the_valid_ones(kind):
    registry = REGISTRIES[kind]
    names = registry.names()
    assert names and len(set(names)) == len(names) == len(registry.values())
    with pytest.raises(UserInputError, match=f"valid {registry.kind}s are .*'{names[-1]}'"):
        registry.get("no such name")


# ---- models ------------------------------------------------------------------------------

def _detection_batch(shape: tuple[int, ...]):
    images = [torch.rand(*shape), torch.rand(*shape)]
    masks = torch.zeros(1, *shape[1:], dtype=torch.uint8)
    masks[0, 10:40, 20:35] = 1
    target = {"boxes": torch.tensor([[20.0, 10.0, 35.0, 40.0]]), "labels": torch.tensor([1]), "masks": masks}
    return images, [target, dict(target)]


def _forward_backward(net: torch.nn.Module, spec) -> None:
    if spec.kind == "detection":
        images, targets = _detection_batch(spec.input_shape)
        losses = net.train()(images, targets)
        sum(losses.values()).backward()
        assert len(net.eval()(images)) == 2
    else:
        out = net.train()(torch.randn(4, *spec.input_shape))
        assert out.ndim == 2 and out.shape[0] == 4
        out.logsumexp(1).sum().backward()
    trained = [p for p in net.parameters() if p.requires_grad]
    assert trained and all(p.grad is not None for p in trained)


@pytest.mark.parametrize("name", MODELS.names())
def test_model_has_slots_and_trains_with_dropout(name):
    spec = MODELS.get(name)
    torch.manual_seed(0)
    net = spec.build(**spec.small)
    slots = dropout_slots(net)
    assert slots, "at least one dropout slot"
    dropped = add_dropout(net, [RATE] * len(slots))
    assert dropout_rates(dropped) == {s: RATE for s in slots}
    if spec.kind == "classification":
        x = torch.randn(4, *spec.input_shape)
        torch.testing.assert_close(dropped.eval()(x), net.eval()(x))  # dropout is the identity in eval
        assert not torch.equal(dropped.train()(x), dropped.train()(x)), "dropout active in train()"
    _forward_backward(dropped, spec)


def _clean_copy(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("name", MODELS.names())
def test_drift_leaves_the_model_unchanged(name):
    spec = MODELS.get(name)
    torch.manual_seed(0)
    net = spec.build(**spec.small).eval()
    clean = _clean_copy(net)
    for drift in DRIFTS.names():
        model = get_drift(drift)
        level = model.default_levels[-1] if model.axis == "time" else SIGMA  # seconds for a device model
        drifted = model.perturb(net, level, torch.Generator().manual_seed(1))
        assert any(not torch.equal(a, b) for a, b in zip(net.parameters(), drifted.parameters())), drift
    if spec.kind == "detection":
        images, targets = _detection_batch(spec.input_shape)
        evaluate_detection_under_drift(net, list(zip(images, targets)), [0.0, SIGMA], samples=1)
    else:
        data = TensorDataset(torch.randn(8, *spec.input_shape), torch.zeros(8, dtype=torch.int64))
        evaluate_under_drift(net, data, [0.0, SIGMA], samples=2)
    assert all(torch.equal(v, clean[k]) for k, v in net.state_dict().items()), "the caller's model drifted"
    assert not net.training


# ---- datasets ----------------------------------------------------------------------------

def _rows(part) -> set[bytes]:
    return {row.numpy().tobytes() for row in part.tensors[0].flatten(1)}


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_shapes_and_disjoint_splits(name, data_dir, mnist):
    splits = mnist if name == "mnist_embedded" else load_data(name, root=str(data_dir), seed=0)
    parts = (splits.train, splits.val, splits.test)
    assert all(len(p) > 0 for p in parts) and splits.num_classes >= 2
    if isinstance(splits.train, Subset):  # detection: (image, target) pairs of one dataset
        indices = [set(p.indices) for p in parts]
        assert not (indices[0] & indices[1]) and not (indices[0] & indices[2]) and not (indices[1] & indices[2])
        image, target = splits.test[0]
        assert image.shape[0] == splits.input_shape[0] and {"boxes", "labels"} <= set(target)
        return
    for part in parts:
        x, y = part.tensors
        assert tuple(x.shape[1:]) == splits.input_shape and x.dtype == torch.float32
        assert y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) < splits.num_classes
    rows = [_rows(p) for p in parts]
    assert not (rows[0] & rows[2]) and not (rows[1] & rows[2]), "test images also in train/val"


@pytest.mark.parametrize("name", [n for n in DATASETS.names() if n != "mnist_embedded"])
def test_dataset_files_missing_name_the_fix(name, tmp_path):
    with pytest.raises(UserInputError, match="--data-dir"):
        load_data(name, root=str(tmp_path), download=False)
    with pytest.raises(UserInputError, match="needs a data directory"):
        load_data(name, root=None)


# ---- methods -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", METHODS.names())
def test_method_trains_and_is_scored(name, mnist):
    train = TensorDataset(*mnist.train[::14])  # 250 digits, every class (the splits are sorted by class)
    val, test = TensorDataset(*mnist.val[::4]), TensorDataset(*mnist.test[::8])
    cfg = MethodConfig(epochs=1, batch_size=64, ftna_bits=7, ftna_distance=3, reram_max_rounds=1)
    model = METHODS.get(name).fit(lambda: mlp(784, (32,), 10), train, val, cfg, seed=0)
    assert model(test.tensors[0][:4]).shape == (4, 10)
    frame = evaluate_under_drift(model, test, [0.0, SIGMA], samples=2)
    assert frame.loss.notna().all() and frame.accuracy.between(0, 1).all()
    assert frame[frame.sigma == 0].accuracy.iloc[0] > 0.2, "one epoch learns something (chance: 0.1)"


# ---- tasks -------------------------------------------------------------------------------

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


def _check_metrics(metrics: dict, task: str) -> None:
    assert metrics["epoch"] == 1
    for key in ("drifted_loss", "drifted_loss_sem", "drifted_accuracy", "drifted_accuracy_sem",
                "clean_accuracy", "clean_loss", "train_loss", "grid_accuracy", "grid_accuracy_sem"):
        assert math.isfinite(metrics[key]), key
    assert metrics["drifted_loss_sem"] >= 0 and 0 <= metrics["clean_accuracy"] <= 1
    if get_task(task).kind == "detection":  # objective = 1 - drifted mAP
        assert metrics["drifted_loss"] == pytest.approx(1 - metrics["drifted_accuracy"])
        assert metrics["clean_loss"] == pytest.approx(1 - metrics["clean_accuracy"])
    assert metrics["knobs"]["dropout"] == [0.1] * len(get_task(task).slots())


@pytest.mark.parametrize("task", TASKS.names())
def test_task_smoke_trial_reports_and_resumes(data_dir, tmp_path, monkeypatch, task):
    """The real trainable (``run_trial`` and its dispatch), called directly with Tune's API faked."""
    from ray import tune

    from trainables import run_trial

    monkeypatch.setenv(SMOKE_ENV, "1")
    session = FakeSession(tmp_path)
    monkeypatch.setattr(tune, "report", session.report)
    monkeypatch.setattr(tune, "get_checkpoint", session.get_checkpoint)
    config = _config(task, str(data_dir))
    run_trial(config)
    assert len(session.reports) == 1
    _check_metrics(session.reports[0], task)
    with session.dirs[0].as_directory() as d:
        state = torch.load(os.path.join(d, "trial.pt"), weights_only=True)
    assert state["task"] == task and state["rates"] == [0.1] * len(get_task(task).slots())
    assert state["knobs"]["noise"] == 0.2 and state["trainer"]["epochs_done"] == 1
    session.resume_from = session.dirs[0]  # a restarted trial with its checkpoint: nothing left to do
    run_trial(config)
    assert len(session.reports) == 1
