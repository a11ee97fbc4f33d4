"""The README says what the tool does: its schema section and set-up commands match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bayesft_tune.schema import HISTORY, ROBUSTNESS, SCHEMA_VERSION, SELECTION, TRIALS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("table", [TRIALS, HISTORY, SELECTION, ROBUSTNESS])
def test_every_documented_column_matches_the_schema(table):
    for column, dtype in table.items():
        if re.match(r"(accuracy|loss)_(mean|std|sem|ci_low|ci_high)$", column):
            assert "`{accuracy,loss}_{mean,std,sem,ci_low,ci_high}` float64" in README
            continue
        assert f"`{column}` {dtype}" in README, f"README lacks `{column}` {dtype}"
    assert f"now {SCHEMA_VERSION}" in README


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2 and block[0].endswith("bayesft-tune search") and block[1].endswith("-m pytest")
    assert block[1] in (ROOT / ".ci" / "run").read_text()
