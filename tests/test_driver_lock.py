"""One driver at a time per run: a second driver is refused with the first's host and PID;
a lock left by a dead driver is taken over."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from bayesft_tune import UserInputError
from bayesft_tune.run_dir import LOCK_FILE
from bayesft_tune.search.rundir import driver_lock

SECOND = "import sys; from bayesft_tune.search.rundir import driver_lock\nwith driver_lock(sys.argv[1]): pass\n"


def test_a_second_driver_is_refused_while_the_first_holds_the_run(tmp_path):
    with driver_lock(str(tmp_path)):
        held = json.loads((tmp_path / LOCK_FILE).read_text())
        assert held["pid"] > 0 and held["host"] == socket.gethostname()
        out = subprocess.run([sys.executable, "-c", SECOND, str(tmp_path)], capture_output=True, text=True, timeout=120)
        assert out.returncode != 0 and f"PID {held['pid']}" in out.stderr and "one driver at a time" in out.stderr
    assert not (tmp_path / LOCK_FILE).exists(), "released at the end"


def test_a_lock_of_a_dead_driver_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "started": 0}))
    with driver_lock(str(tmp_path)):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] != int(dead.stdout)  # the lock is now ours
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_from_another_host_is_respected(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": 0}))
    with pytest.raises(UserInputError, match="host elsewhere, PID 1"):
        with driver_lock(str(tmp_path)):
            pass
