"""The package loads its names on first use: ``import bayesft_tune`` and the command line
do not wait for torch, and every public name still resolves to its home module's object."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import bayesft_tune

MARK_TORCH = textwrap.dedent("""
    import sys

    class MarkTorch:  # writes TORCH to stderr when torch is first imported
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                print("TORCH", file=sys.stderr, flush=True)
                sys.meta_path.remove(self)
            return None

    sys.meta_path.insert(0, MarkTorch())
""")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", MARK_TORCH + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_importing_the_package_and_the_cli_loads_no_torch():
    done = _run("""
        import bayesft_tune, bayesft_tune.cli
        print(sorted(m for m in ("torch", "ray", "ax", "pandas") if m in sys.modules))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    assert "TORCH" not in done.stderr


def test_search_prints_its_first_line_before_torch_loads():
    done = _run("""
        from bayesft_tune.cli import main
        sys.exit(main(["search", "--trials", "0"]))
    """)
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr[-2000:]  # --trials 0 is bad input: one error line, status 2
    assert lines[0] == "bayesft-tune search: starting (loading torch, Ax and Ray)"
    assert "TORCH" in lines[1:]


def test_every_public_name_resolves_to_its_home_modules_object():
    assert {"run_search", "evaluate_under_drift", "Trainer"} <= set(bayesft_tune.__all__) <= set(dir(bayesft_tune))
    for name, module in bayesft_tune._LAZY.items():
        assert getattr(bayesft_tune, name) is getattr(importlib.import_module(module), name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        bayesft_tune.no_such_name  # noqa: B018
