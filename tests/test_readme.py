"""The README says what the tool does: its set-up commands and its example match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2 and block[0].endswith("bayesft-tune search") and block[1].endswith("-m pytest")
    assert block[1] in (ROOT / ".ci" / "run").read_text()


def _your_own_network() -> tuple[str, str]:
    """The README's example file and the command that searches it, as printed."""
    section = README.split("## Your own network\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    command = section.split("```bash\n", 1)[1].split("```", 1)[0].strip()
    return code, command


def test_your_own_network_example_is_about_twenty_lines_and_names_its_file():
    code, command = _your_own_network()
    assert code.startswith("# digits_cnn.py") and 15 <= len(code.strip().splitlines()) <= 30
    assert command.startswith(".venv/bin/bayesft-tune search --task digits_cnn.py:TASK")


@pytest.mark.slow
def test_your_own_network_example_runs_as_printed(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    code, command = _your_own_network()
    (tmp_path / "digits_cnn.py").write_text(code)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "bayesft-tune").symlink_to(Path(sys.executable).with_name("bayesft-tune"))
    out = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "returned network: trial" in out.stdout
    run = next((tmp_path / "runs").iterdir())
    trials = pd.read_parquet(run / "trials.parquet")
    assert (trials.status == "completed").sum() == 8 and trials.parameter_count.max() <= 9_930  # the width knob keeps the budget
