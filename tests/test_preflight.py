"""Pre-flight checks: each names the rule, the value and the fix, and answers within seconds."""

from __future__ import annotations

import os
import time

import pytest
import torch

from bayesft_tune import add_dropout, build_model
from bayesft_tune.errors import UserInputError
from bayesft_tune.search import interrupt
from bayesft_tune.search.preflight import (
    SKIP_RESOURCE_CHECK_ENV, busy_notice, check_checkpoint_matches, check_device, check_output_path,
    check_resources, check_sigmas, check_storage_writable, load_checkpoint)
from test_preflight_address import closed_port  # a port nothing listens on


# ---- check_resources -------------------------------------------------------------------
def test_resources_that_fit_pass():
    check_resources(1, 0, {"CPU": 2.0})
    check_resources(1, 0.25, {"CPU": 2.0, "GPU": 1.0})


def test_gpu_trial_on_a_cluster_without_gpus():
    with pytest.raises(UserInputError, match=r"gpus_per_trial=1 .* 0 GPU.*--gpus-per-trial 0.*autoscaling"):
        check_resources(1, 1, {"CPU": 4.0})


def test_more_cpus_than_the_cluster():
    with pytest.raises(UserInputError, match=r"cpus_per_trial=8 .* 2 CPU.*--cpus-per-trial 2"):
        check_resources(8, 0, {"CPU": 2.0})


def test_resource_check_can_be_skipped_for_autoscaling(monkeypatch):
    monkeypatch.setenv(SKIP_RESOURCE_CHECK_ENV, "1")
    check_resources(8, 2, {"CPU": 1.0})


def test_a_busy_cluster_is_named_with_what_is_free():
    line = busy_notice(1, 0, "10.0.0.5:6379", {"CPU": 0.0, "memory": 1e9})
    assert line.startswith("the Ray cluster at 10.0.0.5:6379 has 0 CPU(s) and 0 GPU(s) free now, one trial "
                           "needs 1 and 0") and "ray status" in line
    assert "has 2 CPU(s) and 0.5 GPU(s)" in busy_notice(1, 1, "auto", {"CPU": 2.0, "GPU": 0.5})


def test_a_cluster_with_room_or_a_local_ray_says_nothing():
    assert busy_notice(1, 0.5, "auto", {"CPU": 1.0, "GPU": 0.5}) is None
    assert busy_notice(1, 0, None, {}) is None  # our own local Ray is never held by others


# ---- check_storage_writable ------------------------------------------------------------
def test_writable_directory_is_created_and_left_clean(tmp_path):
    target = tmp_path / "runs" / "new"
    check_storage_writable(str(target))
    assert target.is_dir() and list(target.iterdir()) == []
    check_storage_writable(f"file://{tmp_path}/uri")
    assert list((tmp_path / "uri").iterdir()) == []


def test_file_in_the_way(tmp_path):
    (tmp_path / "f").write_text("keep")
    with pytest.raises(UserInputError, match="--storage-path must be a writable directory"):
        check_storage_writable(str(tmp_path / "f" / "run"))
    assert (tmp_path / "f").read_text() == "keep"


def test_proc_is_not_writable():
    with pytest.raises(UserInputError, match="--storage-path"):
        check_storage_writable("/proc/x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_read_only_directory(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(UserInputError, match="--storage-path"):
            check_storage_writable(str(tmp_path / "run"))
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("uri", ["s3x://bucket/run", "http://example.com/run", "s3://"])
def test_unusable_uri(uri):
    with pytest.raises(UserInputError, match="storage URI must"):
        check_storage_writable(uri)


@pytest.mark.parametrize("variable, uri, named", [("AWS_ENDPOINT_URL", "s3://bucket/run", "AWS_ENDPOINT_URL"),
                                                  ("STORAGE_EMULATOR_HOST", "gs://bucket/x", "'gs://bucket/x'")])
def test_an_unreachable_storage_service_fails_fast_instead_of_hanging(monkeypatch, variable, uri, named):
    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv(variable, f"http://{address}" if variable.startswith("AWS") else address)
    started = time.monotonic()
    with pytest.raises(UserInputError, match=f"storage service must be reachable .*{named}"):
        check_storage_writable(uri)
    assert time.monotonic() - started < 4


# ---- check_sigmas ---------------------------------------------------------------------
def test_good_sigmas_come_back_as_floats():
    assert check_sigmas("--sigmas", [0, 0.3, 1]) == (0.0, 0.3, 1.0)


@pytest.mark.parametrize("values,match", [
    ([], "one or more"), (None, "one or more"), ("0.5", "one or more"),
    ([float("nan")], "finite numbers"), ([0.3, float("inf")], "finite numbers"), ([-0.1], "finite numbers"),
    (["a"], "finite numbers"), ([True], "finite numbers"),
])
def test_bad_sigmas(values, match):
    with pytest.raises(UserInputError, match=f"--sigmas must .*{match}"):
        check_sigmas("--sigmas", values)


# ---- check_output_path -------------------------------------------------------------------
def test_new_output_file_passes(tmp_path):
    check_output_path(str(tmp_path / "out" / "robustness.parquet"))


@pytest.mark.parametrize("name", ["trials.parquet", "history.parquet"])
def test_run_tables_are_refused(tmp_path, name):
    with pytest.raises(UserInputError, match=f"--out must not overwrite a search run's table \\({name}\\)"):
        check_output_path(str(tmp_path / name))


def test_files_in_a_run_directory_are_refused(tmp_path):
    (tmp_path / "search_config.json").write_text("{}")
    with pytest.raises(UserInputError, match="must not write into a search run directory"):
        check_output_path(str(tmp_path / "robustness.parquet"), "--out")
    with pytest.raises(UserInputError, match="--save must not write into"):
        check_output_path(f"file://{tmp_path}/model.pt", "--save")


def test_directory_and_file_parent_are_refused(tmp_path):
    with pytest.raises(UserInputError, match="not an existing directory"):
        check_output_path(str(tmp_path))
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserInputError, match="is a file"):
        check_output_path(str(tmp_path / "f" / "deeper" / "r.parquet"))


# ---- check_device, load_checkpoint, check_checkpoint_matches ---------------------------------
def test_device_checks():
    check_device("cpu")
    missing = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(UserInputError, match=f"--device must be a device this machine has; got '{missing}'"):
        check_device(missing)
    for bad in ("gpu0", "meta"):
        with pytest.raises(UserInputError, match="--device must be"):
            check_device(bad)


def _save(path, model="mlp", **extra):
    net = add_dropout(build_model(model), [0.1] * (2 if model == "mlp" else 4))
    torch.save({"model": model, "rates": [0.1] * (2 if model == "mlp" else 4),
                "state_dict": net.state_dict(), **extra}, path)


def test_checkpoint_file_problems(tmp_path):
    good = tmp_path / "m.pt"
    _save(good)
    assert set(load_checkpoint(str(good))) >= {"rates", "state_dict"}
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:1000])
    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save({"weights": 1}, tmp_path / "odd.pt")
    cases = {str(tmp_path / "nope.pt"): "does not exist", str(tmp_path): "not a directory",
             str(tmp_path / "cut.pt"): "truncated or not a torch file",
             str(tmp_path / "text.pt"): "truncated or not a torch file", str(tmp_path / "odd.pt"): "model weights"}
    for path, match in cases.items():
        with pytest.raises(UserInputError, match=f"--checkpoint must .*{match}"):
            load_checkpoint(path)


def test_checkpoint_of_another_architecture(tmp_path):
    _save(tmp_path / "lenet.pt", "lenet5")
    state = load_checkpoint(str(tmp_path / "lenet.pt"))
    with pytest.raises(UserInputError, match=r"keys/shapes do not match.*saved for 'lenet5'") as err:
        check_checkpoint_matches(state, build_model("mlp"), "mlp", "lenet.pt")
    assert "conv1.weight" in str(err.value) and "rates" not in str(err.value)
    assert check_checkpoint_matches(state, build_model("lenet5"), "lenet5", "lenet.pt") is state["state_dict"]


# ---- interrupt ---------------------------------------------------------------------------
def test_interrupt_message_names_the_resume_command():
    interrupt.forget_run_dir()
    assert interrupt.interrupted_message("search") == "bayesft-tune search: interrupted."
    interrupt.remember_run_dir("runs/my run")
    assert interrupt.interrupted_message("search").endswith(
        "resume with: bayesft-tune search --resume 'runs/my run'")
    assert interrupt.interrupted_message("evaluate") == "bayesft-tune evaluate: interrupted."
    interrupt.forget_run_dir()
