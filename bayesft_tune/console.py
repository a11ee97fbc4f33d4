"""The ``bayesft-tune`` console script: :func:`bayesft_tune.cli.main`, then a quick exit.

Once a command has loaded torch and Ray, the interpreter's own teardown (module cleanup
and the C++ destructors of torch and Ray's core worker) took 2.1 s after the last line
was printed (a 6-trial search; the last atexit handler had run, faulthandler showed no
Python frame). Everything a command writes is closed and its Ray session shut down
before ``main`` returns, so the script runs the atexit handlers, flushes the standard
streams and ends the process without that teardown. Called as a function (tests, other
programs), :func:`~bayesft_tune.cli.main` returns normally.
"""

from __future__ import annotations

import atexit
import os
import sys

from bayesft_tune.cli import main

__all__ = ["run"]

HEAVY = ("torch", "ray")
"""Modules whose teardown the quick exit skips; without them the exit is the usual one."""


def run() -> None:
    """Run the command line and exit with its status."""
    code = main()
    if not any(name in sys.modules for name in HEAVY):
        sys.exit(code)
    atexit._run_exitfuncs()  # what a normal exit runs first (Ray, logging, thread pools)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more to show
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
