"""What to tell the user when a search is interrupted (Ctrl-C): how to resume it.

The runner records the run directory as soon as it is known; the command line reads it
back when a ``KeyboardInterrupt`` reaches it and prints one line::

    bayesft-tune search: interrupted; resume with: bayesft-tune search --resume runs/search-...

Wiring (``bayesft_tune/search/runner.py``): call :func:`remember_run_dir` right after the
run directory is chosen in ``run_search`` (and with ``run_dir`` in ``resume_search``).
"""

from __future__ import annotations

import shlex
import signal
import threading

__all__ = ["EXIT_INTERRUPTED", "forget_run_dir", "interrupted_message", "raise_if_interrupted",
           "remember_run_dir", "resume_command", "run_dir", "watch_sigint"]

EXIT_INTERRUPTED = 130
"""Exit status of an interrupted command (128 + SIGINT), as shells report it."""

_state: dict[str, str | None] = {"run_dir": None, "interrupted": None}


def remember_run_dir(path: str) -> None:
    """Record the run directory of the search in progress (local path or URI)."""
    _state["run_dir"] = str(path)


def forget_run_dir() -> None:
    """Clear the recorded run directory (a new command starts)."""
    _state["run_dir"] = None


def _on_sigint(signum: int, frame: object) -> None:
    _state["interrupted"] = "SIGINT"
    raise KeyboardInterrupt


def watch_sigint() -> None:
    """Ctrl-C raises ``KeyboardInterrupt`` as usual and is also remembered, so a search whose
    interrupt a library swallowed (Ray and Tune run callbacks where it can land) still
    stops before its final job: :func:`raise_if_interrupted`. Main thread only."""
    _state["interrupted"] = None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C came since :func:`watch_sigint`."""
    if _state["interrupted"]:
        raise KeyboardInterrupt


def run_dir() -> str | None:
    """The run directory recorded by :func:`remember_run_dir`, if any."""
    return _state["run_dir"]


def resume_command(path: str) -> str:
    """The shell command that resumes the search in ``path``, quoted for a POSIX shell."""
    return f"bayesft-tune search --resume {shlex.quote(path)}"


def interrupted_message(command: str) -> str:
    """One line for an interrupted ``command``; for a search with a known run directory,
    the command that resumes it."""
    line = f"bayesft-tune {command}: interrupted"
    path = run_dir() if command == "search" else None
    return f"{line}; resume with: {resume_command(path)}" if path else f"{line}."
