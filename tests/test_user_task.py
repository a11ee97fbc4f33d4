"""Your own network on your own data: a task the package has never seen, searched through
the real CLI on a local Ray and on a two-node loopback cluster, then loaded back in a fresh
process; data without code (``.npz``, ImageFolder) made from the embedded digits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import bayesft_tune as bft
from bayesft_tune.data.files import DataFile
from bayesft_tune.data.mnist import embedded_digits
from bayesft_tune.tasks import get_task, reference_for
from bayesft_tune.tasks.source import data_reference, shipped_task
from loopback_cluster import LoopbackCluster, cluster_env

FIXTURE = Path(__file__).parent / "fixtures" / "user_project"
CLI = str(Path(sys.executable).with_name("bayesft-tune"))
SMALL = ["--trials", "2", "--concurrency", "2", "--samples", "4", "--robustness-samples", "4",
         "--robustness-sigmas", "0,0.6", "--quiet"]


def _digits(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    x, y = embedded_digits()
    rows = np.random.default_rng(0).permutation(len(y))[:n]  # the file is sorted by class
    return x[rows].reshape(-1, 28, 28).astype(np.uint8), y[rows]


def test_a_file_a_module_and_a_function_resolve_to_the_same_kind_of_task(monkeypatch):
    file_ref = reference_for(f"{FIXTURE}/tiny_digits.py:TASK")
    assert file_ref == f"{FIXTURE}/tiny_digits.py:TASK" and get_task(file_ref).name == "tiny_digits"
    assert get_task(reference_for(f"{FIXTURE}/tiny_digits.py:make_task")) is get_task(file_ref)
    monkeypatch.syspath_prepend(str(FIXTURE))
    import tinynets

    assert reference_for("tinynets:TASK") == "tinynets:TASK"
    assert reference_for(tinynets.TASK) == "tinynets:TASK"  # an object a module holds: by name
    loose = bft.Task(name="loose", model=tinynets.mlp, data=tinynets.features)
    ref = reference_for(loose)  # held by no module: shipped by value
    assert ref == "object:loose" and shipped_task(ref) is loose and get_task(ref) is loose


def test_npz_and_image_folder_data_become_splits_with_inferred_shape_and_classes(tmp_path):
    x, y = _digits()
    np.savez(tmp_path / "d.npz", x_train=x[:500], y_train=y[:500], x_test=x[500:], y_test=y[500:])
    for part, rows in (("train", range(300)), ("test", range(300, 400))):
        for i in rows:
            folder = tmp_path / "img" / part / f"c{y[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).save(folder / f"{i}.png")
    npz, images = DataFile(str(tmp_path / "d.npz"))(0), DataFile(str(tmp_path / "img"))(0)
    assert (len(npz.train), len(npz.val), len(npz.test), npz.num_classes, npz.input_shape) == (450, 50, 100, 10,
                                                                                                (1, 28, 28))
    assert (len(images.train) + len(images.val), len(images.test), images.num_classes) == (300, 100, 10)
    assert images.input_shape == (1, 28, 28)
    assert abs(float(npz.train.tensors[0].mean())) < 1e-5  # standardised on the training rows
    task = get_task(reference_for(data_reference(str(tmp_path / "d.npz"), "lenet5")))
    assert task.build()(npz.val.tensors[0][:3]).shape == (3, 10) and task.base_widths == (6, 16, 120, 84)


def test_yaml_and_data_with_a_model_file_name_the_same_tasks(tmp_path):
    from bayesft_tune.search.config import SearchConfig

    (tmp_path / "cfg.yaml").write_text(f"task: '{FIXTURE}/tiny_digits.py:TASK'\ntrials: 3\n")
    assert SearchConfig.from_yaml(str(tmp_path / "cfg.yaml")).task == f"{FIXTURE}/tiny_digits.py:TASK"
    x, y = embedded_digits()
    small = x[:, :64].reshape(-1, 8, 8)  # 8 x 8 inputs, as the fixture's CNN takes
    np.savez(tmp_path / "d.npz", x_train=small[:400], y_train=y[:400] % 10, x_test=small[400:500], y_test=y[400:500])
    cfg = SearchConfig(data=str(tmp_path / "d.npz"), model=f"{FIXTURE}/tiny_digits.py:cnn")
    task = get_task(cfg.task)
    assert cfg.task.startswith("data:") and task.name == "d" and task.model.__name__ == "cnn"
    assert task.build()(task.splits(seed=0).val.tensors[0][:2]).shape == (2, 10)


def _search(*flags: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run([CLI, "search", *SMALL, *flags], env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _imports(storage: Path) -> list[tuple[int, str]]:
    lines = (storage / "imports.log").read_text().split("\n")
    return [(int(pid), path) for pid, path in (line.split(" ", 1) for line in lines if line)]


def _clean_accuracy_again(run_dir: Path, trial_id: str) -> float:
    """A fresh process loads the trial's network and scores the validation split."""
    script = ("import sys, json, torch, bayesft_tune as bft\n"
              "from bayesft_tune.search.rundir import load_config\n"
              "from bayesft_tune.evaluation import score_batches, as_batches\n"
              "run, trial = sys.argv[1:]\ncfg = load_config(run)\n"
              "net = bft.load_trial_model(run, trial)\n"
              "val = cfg.trial_spec().splits().val\n"
              "print(json.dumps(score_batches(net, as_batches(val, 1024, torch.device('cpu')))[1]))\n")
    out = subprocess.run([sys.executable, "-c", script, str(run_dir), trial_id], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_task_file_is_searched_on_local_ray_and_loads_back_in_a_fresh_process(tmp_path):
    storage = tmp_path / "runs"
    _search("--task", f"{FIXTURE}/tiny_digits.py:TASK", "--storage-path", str(storage), "--name", "mine",
            cwd=tmp_path)
    run = storage / "mine"
    trials = pd.read_parquet(run / "trials.parquet")
    assert (trials.status == "completed").sum() == 2 and set(trials.task) == {f"{FIXTURE}/tiny_digits.py:TASK"}
    assert json.loads((run / "search_config.json").read_text())["task"] == f"{FIXTURE}/tiny_digits.py:TASK"
    shipped = [p for pid, p in _imports(storage) if pid != os.getpid() and "runtime_resources" in p]
    assert shipped, "no Ray worker imported the copy shipped with the job's runtime_env"
    chosen = pd.read_parquet(run / "selection.parquet").query("chosen").trial_id.iloc[0]
    recorded = trials.set_index("trial_id").clean_accuracy[chosen]
    assert _clean_accuracy_again(run, chosen) == pytest.approx(recorded, abs=1e-9)
    for command in (["search", "--resume", str(run)], ["report", str(run), "--out", str(tmp_path / "rep")],
                    ["watch", str(run), "--once"],
                    ["evaluate", "--run", str(run), "--samples", "2", "--out", str(tmp_path / "ev")]):
        out = subprocess.run([CLI, *command], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert out.returncode == 0, (command, out.stderr[-2000:])


@pytest.mark.slow
def test_npz_data_with_a_registered_model_is_searched(tmp_path):
    x, y = _digits(400)
    np.savez(tmp_path / "digits.npz", x_train=x[:300], y_train=y[:300], x_test=x[300:], y_test=y[300:])
    _search("--data", str(tmp_path / "digits.npz"), "--model", "mlp", "--epochs", "1", "--storage-path",
            str(tmp_path), "--name", "npz", cwd=tmp_path)
    trials = pd.read_parquet(tmp_path / "npz" / "trials.parquet")
    assert (trials.status == "completed").sum() == 2
    assert pd.read_parquet(tmp_path / "npz" / "robustness.parquet").method.nunique() == 2  # bayesft and erm


@pytest.mark.slow
def test_a_task_package_reaches_the_second_node_of_a_cluster(tmp_path):
    short = Path(tempfile.mkdtemp(prefix="bft", dir="/tmp"))  # Unix socket paths must stay short
    cluster = LoopbackCluster(short, base_port=47380)
    try:
        cluster.start()
        env = {**cluster_env(short), "PYTHONPATH": str(FIXTURE)}  # the driver imports it; workers get it shipped
        _search("--task", f"{FIXTURE}/tiny_digits.py:TASK", "--address", cluster.address, "--storage-path",
                str(tmp_path), "--name", "two", env=env, cwd=tmp_path)
        shipped = [p for _, p in _imports(tmp_path) if "runtime_resources" in p]
        assert any("ray-worker" in p for p in shipped), shipped  # the second node imported its shipped copy
        trials = pd.read_parquet(tmp_path / "two" / "trials.parquet")
        assert (trials.status == "completed").sum() == 2
    finally:
        cluster.stop()


def test_a_checkpoint_of_a_task_whose_module_is_gone_names_it():
    from bayesft_tune.tasks.checkpoint import model_from_state

    for ref, match in (("/nowhere/gone_task.py:TASK", "task file '/nowhere/gone_task.py' does not exist"),
                       ("gone_package.tasks:TASK", "task module 'gone_package.tasks' is not importable here")):
        with pytest.raises(bft.UserInputError, match=match):
            model_from_state({"task": ref, "knobs": {"dropout": [0.1, 0.1]}, "trainer": {"model": {}}})
