"""`ray up` / `ray submit` / `ray down` for real with ``clusters/local.yaml``.

A real OpenSSH server (Debian's openssh-server, installed by ``.ci/run``) listens on
127.0.0.3:22 with a host key and a user key made by the test. It runs in its own PID
and mount namespaces (``unshare``): ``ray down`` runs ``ray stop`` on the "head", and
the namespace keeps that from stopping other Ray processes on this machine; a private
``/root`` holds the head's home (``~/bayesft-tune``, ``~/.ray``, ``~/.bashrc``).

The test config is ``clusters/local.yaml`` with the addresses, user and key pointed at
the loopback host, and the setup commands replaced by one that puts this checkout's
venv on the head's PATH (the YAML's own commands install Python 3.11 and the pinned
requirements from the network, which the test machine already has in its venv).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SSHD, RSYNC = shutil.which("sshd") or "/usr/sbin/sshd", shutil.which("rsync")
HOST = "127.0.0.3"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(not (os.path.exists(SSHD) and RSYNC and shutil.which("unshare")),
                                 reason="needs Debian's openssh-server, rsync and unshare "
                                        "(.ci/run installs them)")]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _sshd_config(d: Path) -> Path:
    cfg = d / "sshd_config"
    cfg.write_text("\n".join([
        f"ListenAddress {HOST}", "Port 22", f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
        "PermitRootLogin prohibit-password", "PasswordAuthentication no", "UsePAM no",
        "StrictModes no", f"AuthorizedKeysFile {d / 'user_key.pub'}", "Subsystem sftp internal-sftp",
        "MaxStartups 50", "MaxSessions 50", ""]))
    return cfg


def _wait_port(host: str, port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port}")


@pytest.fixture
def ssh_host():
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
    d = Path(tempfile.mkdtemp(prefix="bftssh", dir="/tmp"))  # short: Ray's Unix sockets live below
    home = d / "home"
    home.mkdir()
    (home / ".bashrc").write_text(f"export PATH={Path(sys.executable).parent}:$PATH\n"
                                  f"export RAY_TMPDIR={d / 'raytmp'}\nexport RAY_AUTH_MODE=token\n")
    _keygen(d / "host_key")
    _keygen(d / "user_key")
    script = (f"mkdir -p {home}/.pyenv && mount --bind /root/.pyenv {home}/.pyenv && "
              f"mount --rbind {home} /root && exec {SSHD} -D -e -f {_sshd_config(d)}")
    proc = subprocess.Popen(["unshare", "-p", "-f", "-m", "--mount-proc", "bash", "-c", script],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=open(d / "sshd.log", "w"))
    try:
        _wait_port(HOST, 22)
        yield d
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the namespace's init dies: all its processes die
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def _test_config(d: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "clusters" / "local.yaml").read_text())
    cfg["cluster_name"] = f"bayesft-launcher-test-{d.name}"
    cfg["provider"].update(head_ip=HOST, worker_ips=[])
    cfg["auth"] = {"ssh_user": "root", "ssh_private_key": str(d / "user_key")}
    cfg["setup_commands"] = ["python -c 'import bayesft_tune, ray; print(ray.__version__)'"]
    cfg["head_start_ray_commands"] = [
        "ray get-auth-token --generate > /dev/null",
        f"ray start --head --node-ip-address={HOST} --port=46500 --num-cpus=2 "
        "--include-dashboard=false --disable-usage-stats "
        "--autoscaling-config=~/ray_bootstrap_config.yaml"]
    path = d / "local-test.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _ray(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run([str(Path(sys.executable).with_name("ray")), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"ray {args[0]} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


def test_ray_up_submit_down_on_local_yaml(ssh_host):
    d = ssh_host
    config = str(_test_config(d))
    _ray("up", "-y", "--no-config-cache", config)
    assert (d / "home" / "bayesft-tune" / "bayesft_tune" / "cli.py").exists(), "file_mounts synced"
    # a task of the user's, copied next to search_entry.py on the head (README: "Your own network")
    _ray("rsync-up", config, str(ROOT / "tests" / "fixtures" / "user_project" / "tiny_digits.py"), "~/tiny_digits.py")
    flags = ["--task", "tiny_digits.py:TASK", "--trials", "2", "--concurrency", "1", "--epochs", "1",
             "--samples", "2", "--robustness-samples", "2", "--no-erm-baseline", "--storage-path", str(d / "runs"),
             "--name", "submitted"]
    submitted = _ray("submit", config, "clusters/search_entry.py", "--", *flags)
    trials = pd.read_parquet(d / "runs" / "submitted" / "trials.parquet")
    assert len(trials) == 2 and (trials.status == "completed").all(), submitted.stdout[-2000:]
    assert all(t.endswith("/tiny_digits.py:TASK") for t in trials.task), set(trials.task)
    assert "returned network: trial" in submitted.stdout
    _ray("down", "-y", config)
    time.sleep(2)
    left = [p.pid for p in psutil.process_iter(["cmdline"])
            if "raylet" in " ".join(p.info["cmdline"] or []) and str(d) in " ".join(p.info["cmdline"] or [])]
    assert not left, f"ray down left raylets running: {left}"
