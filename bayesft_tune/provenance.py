"""Where a result came from: the commit, the command, the machine and a hash of the settings,
written beside every comparison's tables (``manifest.json``) so that runs can be pooled only
when the same code and settings made them."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from typing import Any

from bayesft_tune.errors import UserInputError

__all__ = ["MANIFEST", "commit", "manifest", "refuse_mixed", "settings_hash"]

MANIFEST = "manifest.json"
_HERE = os.path.dirname(os.path.abspath(__file__))


def commit() -> str:
    """The checkout's commit (``-dirty`` when tracked files differ from it), or ``unknown``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=_HERE, capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + ("-dirty" if dirty else "")) if head else "unknown"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def settings_hash(settings: dict[str, Any]) -> str:
    """A short hash of JSON-able settings (key order does not matter)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def manifest(settings: dict[str, Any], argv: list[str] | None = None) -> dict[str, Any]:
    """What made a result: commit, command line, machine, Python and the settings (with their hash)."""
    return {"commit": commit(), "command": " ".join(argv if argv is not None else sys.argv),
            "machine": f"{_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}",
            "python": platform.python_version(), "settings": settings, "settings_hash": settings_hash(settings)}


def refuse_mixed(manifests: list[dict[str, Any]], what: str) -> None:
    """Pooling runs needs one commit and one settings hash (seeds aside).

    Raises:
        UserInputError: the runs differ in commit or settings; the message names both.
    """
    keys = {(m.get("commit"), m.get("settings_hash")) for m in manifests}
    if len(keys) > 1 or any(c in (None, "unknown") or str(c).endswith("-dirty") for c, _ in keys):
        raise UserInputError(f"{what}: the runs were made by different (or uncommitted) code or settings: "
                             f"{sorted(map(str, keys))}. Rerun them at one commit with the same settings.")
