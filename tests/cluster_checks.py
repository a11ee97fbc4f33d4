"""The cluster launcher files in clusters/ and the checks the tests of ``tests/test_clusters.py``
run on them: Ray's offline schema path, the comment rule (every key commented) and the secret scan."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = ROOT / "clusters"
YAMLS = sorted(CLUSTERS.glob("*.yaml"))
ENTRY = CLUSTERS / "search_entry.py"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def prepare_and_validate(config: dict) -> dict:
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def keys_with_lines(text: str) -> list[tuple[int, str]]:
    """(0-based line, key) for every mapping key, found by PyYAML's composer."""
    found, stack = [], [yaml.compose(text)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                found.append((key.start_mark.line, key.value))
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(found)


def has_inline_comment(line: str) -> bool:
    unquoted = re.sub(r'"[^"]*"|\'[^\']*\'', '""', line)
    return re.search(r"\s#", unquoted) is not None


def uncommented_keys(text: str) -> list[str]:
    lines = text.splitlines()
    return [
        f"line {n + 1}: {key}"
        for n, key in keys_with_lines(text)
        if not has_inline_comment(lines[n])
        and not (n > 0 and lines[n - 1].lstrip().startswith("#"))
    ]


SECRET_PATTERNS = [
    r"(?i)aws_(secret_access_key|access_key_id|session_token)",
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",  # key contents instead of a path
    r"(?i)\"?(private_key_id|client_secret|refresh_token)\"?\s*:",  # GCP credential JSON
    r"(?i)\b(password|passwd|secret|api[_-]?key)\s*[:=]",
    r"RAY_AUTH_TOKEN\s*=",  # the cluster token itself; it is generated on the head
    r"\b(gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]+|AIza[0-9A-Za-z_-]{35})",
]


def secret_lines(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if any(re.search(p, line) for p in SECRET_PATTERNS)
    ]


def entry_module():
    spec = importlib.util.spec_from_file_location("clusters_search_entry", ENTRY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cli_module():
    """bayesft_tune.cli, or a skip while it has not been written yet."""
    try:
        return importlib.import_module("bayesft_tune.cli")
    except ModuleNotFoundError as exc:
        if exc.name == "bayesft_tune.cli":
            pytest.skip("bayesft_tune.cli does not exist yet")
        raise  # the CLI exists but is broken: fail, do not skip
