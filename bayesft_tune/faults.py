"""Opt-in fault-injection hook for the kill/resume tests (``bench/kill_matrix.py``); off unless set.

``BAYESFT_PAUSE_AT=<point>[=<seconds>]`` makes the process that reaches ``<point>`` print one
line to stderr (``bayesft-tune: test hook: pausing at <point>``) and sleep (default 8 s), so
a test can SIGKILL it while it is inside that code path. Points:

* ``table_write:<table>``: in ``storage.write_file``, after the table's temporary file is
  written and before it is moved into place (e.g. ``table_write:trials``);
* ``final``: in the search driver, at the start of the final job (re-selection and test table).

This module is the only place that reads the variable; never set it outside a test.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["PAUSE_ENV", "pause_at"]

PAUSE_ENV = "BAYESFT_PAUSE_AT"


def pause_at(point: str) -> None:
    """Sleep here if ``BAYESFT_PAUSE_AT`` names ``point``; otherwise return at once."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    name, _, seconds = spec.partition("=")
    if name != point:
        return
    print(f"bayesft-tune: test hook: pausing at {point}", file=sys.stderr, flush=True)
    time.sleep(float(seconds or 8))
