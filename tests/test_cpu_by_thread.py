"""``bench/cpu_by_thread.py``: a command's CPU per process role and thread, read from ``/proc``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).parents[1] / "bench" / "cpu_by_thread.py"
_SPEC = importlib.util.spec_from_file_location("cpu_by_thread", _SCRIPT)
cpu = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cpu)

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")

SPIN = "import threading, time\n" \
       "def spin():\n    t = time.thread_time()\n    while time.thread_time() - t < 0.6: pass\n" \
       "w = threading.Thread(target=spin); w.start(); spin(); w.join()\n"
"""A command whose main thread and one other thread each burn 0.6 s of CPU."""


def test_roles_follow_the_process_that_plays_them():
    site = "/venv/lib/python3.11/site-packages/ray/_private/log_monitor.py"
    assert cpu.role(10, "python -m anything", command_pid=10) == "command"
    assert cpu.role(11, "ray::ImplicitFunc.train", command_pid=10) == "trial workers"
    assert cpu.role(12, "ray::DashboardAgent", command_pid=10) == "ray daemons"
    assert cpu.role(13, f"/venv/bin/python3 -u {site} --session-dir=x", command_pid=10) == "ray daemons"
    assert cpu.role(14, "/usr/sbin/sshd -D", command_pid=10) == "other"


def test_paths_are_cut_to_their_last_two_parts():
    line = "/venv/bin/python3 -u /venv/lib/python3.11/site-packages/ray/_private/log_monitor.py --logs-dir=/tmp/x"
    assert cpu.short(line) == "bin/python3 -u _private/log_monitor.py --logs-dir=/tmp/x"


def test_a_command_s_cpu_is_found_in_its_process_and_its_threads():
    raw = cpu.sample([sys.executable, "-c", SPIN], interval=0.1, bin_s=1.0)
    assert raw["returncode"] == 0
    (own,) = [p for p in raw["processes"] if p["role"] == "command"]
    assert 1.1 <= own["cpu_s"] <= 2.5  # 1.2 s spun, plus the interpreter's start
    threads = sorted((t for t in raw["threads"] if t["role"] == "command"), key=lambda t: -t["cpu_s"])
    assert [t["cpu_s"] >= 0.5 for t in threads[:2]] == [True, True]
    assert "main" in {t["thread"] for t in threads[:2]}
    assert raw["machine_busy_s"] >= own["cpu_s"] - 0.1  # the machine was at least as busy as the command
    assert 0 <= raw["machine_idle_s"] <= raw["nproc"] * raw["wall_s"]
    assert "command" in cpu.report(raw, top=3)
