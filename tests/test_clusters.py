"""Offline checks of the Ray cluster launcher files in clusters/.

Schema validation uses Ray's own code path, minus the cloud: ``ray up`` runs
``prepare_config`` (merge the provider's bundled defaults.yaml, merge setup
commands, fill per-node-type min/max workers; for ``type: local`` also turn
head_ip/worker_ips into the single node type), then imports the provider
(boto3 / googleapiclient), asks the cloud to fill in resources, and only then
calls ``validate_config`` (jsonschema against ray/autoscaler/ray-schema.json
plus cross-field checks). The tests run ``prepare_config`` and
``validate_config`` directly and skip the provider steps, which are the only
ones that need SDKs or network; a fixture blocks sockets and the SDK imports
to prove it. The checks themselves are in ``tests/cluster_checks.py``.
"""

from __future__ import annotations

import ast
import re
import runpy
import socket
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

from cluster_checks import (CLUSTERS, ENTRY, ROOT, YAMLS, cli_module, entry_module, load,  # the files, the checks
                            prepare_and_validate, secret_lines, uncommented_keys)


@pytest.fixture
def offline(monkeypatch):
    """No network and no cloud SDKs while the test runs."""

    def refuse(*args, **kwargs):
        raise AssertionError("cluster config validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for sdk in ("boto3", "botocore", "googleapiclient"):
        monkeypatch.setitem(sys.modules, sdk, None)  # importing it now raises


def test_expected_cluster_files_exist():
    assert {p.name for p in YAMLS} >= {"gpu.yaml", "gcp-gpu.yaml", "local.yaml"}
    assert (CLUSTERS / "README.md").is_file() and ENTRY.is_file()


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_yaml_passes_ray_schema_offline(path, offline):
    prepared = prepare_and_validate(load(path))
    head = prepared["head_node_type"]
    assert head in prepared["available_node_types"]
    workers = [t for t in prepared["available_node_types"] if t != head]
    if prepared["provider"]["type"] == "local":  # head_ip/worker_ips -> one node type
        n = len(prepared["provider"]["worker_ips"])
        node_type = prepared["available_node_types"][head]
        assert node_type["min_workers"] == node_type["max_workers"] == n >= 1
    else:
        assert workers, "cloud configs need an autoscaling worker node type"
        for name in workers:
            node_type = prepared["available_node_types"][name]
            assert node_type["min_workers"] == 0 < node_type["max_workers"]
            assert node_type["max_workers"] <= prepared["max_workers"]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda c: c.__setitem__("setup_comands", c.pop("setup_commands")), id="misspelled-top-level-key"),
        pytest.param(lambda c: c.__setitem__("max_workers", "four"), id="max_workers-not-int"),
        pytest.param(lambda c: c["available_node_types"]["ray.worker.gpu"].__setitem__("min_worker", 0), id="unknown-node-type-key"),
        pytest.param(lambda c: c["available_node_types"]["ray.worker.gpu"].pop("resources"), id="node-type-missing-resources"),
        pytest.param(lambda c: c["auth"].__setitem__("ssh_usr", "ubuntu"), id="misspelled-auth-key"),
        pytest.param(lambda c: c.__setitem__("idle_timeout_minutes", "ten"), id="idle_timeout-not-number"),
    ],
)
def test_broken_yaml_is_rejected(mutate, offline):
    config = load(CLUSTERS / "gpu.yaml")
    prepare_and_validate(config)  # the unmodified file is fine...
    mutate(config)
    with pytest.raises(jsonschema.ValidationError):  # ...each mutation is not
        prepare_and_validate(config)


def test_commands_as_a_string_crash_before_the_schema(offline):
    # Surprise: prepare_config concatenates setup_commands with
    # head_setup_commands before validate_config runs, so a string where a
    # list belongs fails with a TypeError, not a schema error (same in `ray up`).
    config = load(CLUSTERS / "gpu.yaml")
    config["setup_commands"] = "pip install ."
    with pytest.raises(TypeError):
        prepare_and_validate(config)


def test_misspelled_key_in_raw_text_is_rejected(offline):
    text = (CLUSTERS / "gcp-gpu.yaml").read_text().replace("\nhead_node_type:", "\nhead_nodetype:")
    with pytest.raises(jsonschema.ValidationError, match="head_nodetype"):
        prepare_and_validate(yaml.safe_load(text))


# ---------------------------------------------------------------- comments


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_every_key_has_a_comment(path):
    assert uncommented_keys(path.read_text()) == []


def test_comment_check_catches_a_bare_key():
    text = "# the name\ncluster_name: x\n\nmax_workers: 2\nprovider:  # where\n  type: aws\n"
    assert uncommented_keys(text) == ["line 4: max_workers", "line 6: type"]


# ---------------------------------------------------------------- contents

@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_nothing_secret_looking(path):
    config = load(path)
    assert secret_lines(path.read_text()) == []
    assert "gcp_credentials" not in config["provider"]
    key = config.get("auth", {}).get("ssh_private_key")
    if key is not None:  # a path to a key, never the key
        assert key.startswith(("~", "/")) and "\n" not in key


def test_secret_scan_catches_planted_secrets():
    planted = [
        "aws_secret_access_key: abc",
        "  ssh_private_key: -----BEGIN OPENSSH PRIVATE KEY-----",
        "- export RAY_AUTH_TOKEN=0123456789abcdef",
        '"private_key_id": "123"',
    ]
    assert secret_lines("\n".join(planted)) == planted


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_setup_installs_the_pinned_project(path):
    config = load(path)
    setup = "\n".join(config["setup_commands"])
    assert "-r ~/bayesft-tune/requirements.txt" in setup
    assert "pip install -e ~/bayesft-tune" in setup
    assert "--python 3.11" in setup
    # Ray resolves relative local paths against the cwd of `ray up`: the repo root.
    mounts = config["file_mounts"]
    for remote, local in mounts.items():
        assert remote.startswith("~/bayesft-tune/")
        assert (ROOT / local).exists(), f"{local} missing (run `ray up` from the repo root)"
    mounted = {Path(local).as_posix().removeprefix("./") for local in mounts.values()}
    assert {"requirements.txt", "pyproject.toml"} <= mounted
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    wanted = {p.rstrip("*") for p in packages if (ROOT / p.rstrip("*")).is_dir()}
    assert wanted <= mounted, f"package dirs not mounted: {wanted - mounted}"
    assert ".venv" in config["rsync_exclude"]


def test_requirements_pin_the_installed_ray():
    # `ray up` needs the same Ray version on the laptop and on the cluster.
    pins = (ROOT / "requirements.txt").read_text()
    assert re.search(rf"^ray\[[^\]]*\]=={re.escape(ray.__version__)}$", pins, re.M)


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_token_auth_is_consistent(path):
    config = load(path)
    setup = "\n".join(config["setup_commands"])
    head_start = "\n".join(config["head_start_ray_commands"])
    assert "export RAY_AUTH_MODE=token" in setup  # every node and CLI call
    assert "ray get-auth-token --generate" in head_start  # head makes the token
    assert head_start.index("get-auth-token") < head_start.index("ray start")
    assert "~/.ray/auth_token" in config["cluster_synced_files"]  # workers get it
    assert "0.0.0.0" not in head_start  # dashboard stays behind `ray dashboard`


def test_aws_gpu_workers_are_spot():
    config = load(CLUSTERS / "gpu.yaml")
    types = config["available_node_types"]
    worker = types["ray.worker.gpu"]
    assert worker["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    assert worker["node_config"]["InstanceType"].startswith(("g4dn", "g5", "g6", "p"))
    # Without ImageId Ray falls back to an old Ubuntu 18.04 DLAMI.
    assert all("ImageId" in t["node_config"] for t in types.values())
    assert "InstanceMarketOptions" not in types[config["head_node_type"]]["node_config"]


def test_gcp_gpu_workers_are_spot_with_gpus():
    config = load(CLUSTERS / "gcp-gpu.yaml")
    worker = config["available_node_types"]["ray_worker_gpu"]
    node = worker["node_config"]
    gpus = sum(a["acceleratorCount"] for a in node["guestAccelerators"])
    assert worker["resources"]["GPU"] == gpus >= 1  # GCP does not auto-detect
    assert node["scheduling"]["provisioningModel"] == "SPOT"
    assert node["scheduling"]["onHostMaintenance"] == "TERMINATE"  # required with GPUs
    for name in config["available_node_types"]:  # node type names become GCE labels
        assert re.fullmatch(r"[a-z][a-z0-9_-]*", name)


# ---------------------------------------------------------------- search_entry


def test_search_entry_imports_only_stdlib_at_top_level():
    # `ray submit` copies this one file to the head; it may import nothing from
    # the repo except the installed bayesft_tune package.
    tree = ast.parse(ENTRY.read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add(node.module)
    assert top <= {"__future__", "os", "sys"}
    lazy = {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n not in tree.body
    }
    assert lazy == {"bayesft_tune.cli"}


@pytest.mark.parametrize(
    ("flags", "argv"),
    [
        ([], ["search", "--address", "auto"]),
        (["--trials", "8"], ["search", "--address", "auto", "--trials", "8"]),
        (["--address", "ray://h:10001", "-x"], ["search", "--address", "ray://h:10001", "-x"]),
        (["-x", "--address=10.0.0.1:6379"], ["search", "-x", "--address=10.0.0.1:6379"]),
    ],
)
def test_search_entry_argv(flags, argv):
    assert entry_module().search_argv(flags) == argv


def test_search_entry_forwards_to_cli(monkeypatch):
    cli = cli_module()
    calls = []
    monkeypatch.setattr(cli, "main", lambda argv=None: calls.append(argv) or 0)
    entry = entry_module()
    assert entry.main(["--trials", "4"]) == 0
    assert entry.main(["--address", "ray://h:10001"]) == 0
    assert calls == [
        ["search", "--address", "auto", "--trials", "4"],
        ["search", "--address", "ray://h:10001"],
    ]


def test_search_entry_as_submitted_script(monkeypatch):
    # What `ray submit ... -- --trials 2` runs: python ~/search_entry.py --trials 2
    cli = cli_module()
    calls = []
    monkeypatch.setattr(cli, "main", lambda argv=None: calls.append(argv) or 3)
    monkeypatch.setattr(sys, "argv", [str(ENTRY), "--trials", "2"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ENTRY), run_name="__main__")
    assert exit_info.value.code == 3
    assert calls == [["search", "--address", "auto", "--trials", "2"]]


def test_search_entry_takes_a_relative_task_file_from_beside_itself(tmp_path, monkeypatch):
    entry = entry_module()
    monkeypatch.chdir(tmp_path)  # `ray submit` runs the script from the head's home directory
    monkeypatch.setattr(entry, "HERE", str(tmp_path / "beside"))
    (tmp_path / "beside").mkdir()
    (tmp_path / "beside" / "mine.py").write_text("")
    argv = entry.search_argv(["--task", "mine.py:TASK", "--name", "mine.py:TASK"])
    assert argv[:5] == ["search", "--address", "auto", "--task", f"{tmp_path}/beside/mine.py:TASK"]
    assert argv[-1] == "mine.py:TASK"  # only --task's value
    assert entry.search_argv(["--task", "mnist_mlp"])[-1] == "mnist_mlp"
