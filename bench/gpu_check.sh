#!/usr/bin/env bash
# Pass/fail GPU check (see bench/gpu_check.py). Run from the repository root on a GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" bench/gpu_check.py "$@"
