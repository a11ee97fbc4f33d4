"""Code shape: no module over 300 lines and no function over 40 lines in the packages
(``bayesft_tune``, ``trainables``, ``analysis``) and in ``bench/`` and ``tests/``; split by concept
when one grows past them. In the packages, imports sit at the module's top unless a comment says
why (``# lazy: <why>``: an optional heavy dependency, a warning filter first, a command's modules
loaded only for it)."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bayesft_tune", "trainables", "analysis")
SCRIPTS = ("bench", "tests")
"""Benchmarks and tests: held to the same two size limits as the packages (not to the import rule)."""
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 40


def _modules(dirs: tuple[str, ...] = PACKAGES) -> list[Path]:
    return sorted(p for pkg in dirs for p in (ROOT / pkg).rglob("*.py"))


def _sized_modules() -> list[Path]:
    """Every module the two size limits apply to: the packages', the benchmarks' and the tests'."""
    return _modules(PACKAGES + SCRIPTS)


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in _sized_modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_over_40_lines():
    long = {}
    for path in _sized_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # the def line to the last line, docstring included
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def _statement_lists(tree: ast.AST) -> list[list[ast.stmt]]:
    """Every statement list inside a function (its body, and those of its ifs, trys, loops)."""
    seen, out = set(), []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                for field in ("body", "orelse", "finalbody"):
                    stmts = getattr(node, field, None)
                    if isinstance(stmts, list) and stmts and id(stmts) not in seen:
                        seen.add(id(stmts))
                        out.append(stmts)
    return out


def bare_imports(source: str) -> list[int]:
    """Lines of in-function imports with no comment on their lines or the line above. A run of
    consecutive imports shares the comment of its first one (on its line or the line above)."""
    lines = source.splitlines()
    comments = {t.start[0] for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type == tokenize.COMMENT}

    def said(node: ast.stmt) -> bool:
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        return above.startswith("#") or any(n in comments for n in range(node.lineno, node.end_lineno + 1))

    bare = []
    for stmts in _statement_lists(ast.parse(source)):
        lead = None  # the first import of the current run
        for stmt in stmts:
            if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                lead = None
                continue
            lead = lead or stmt
            if not (said(stmt) or said(lead)):
                bare.append(stmt.lineno)
    return sorted(bare)


def test_bare_imports_rule():
    source = ("def f():\n    import a  # lazy: heavy\n    import b\n\n    import c\n    x = 1\n    import d\n"
              "def g():\n    # lazy: heavy\n    import e\n    if x:\n        import h\n")
    assert bare_imports(source) == [7, 12]


def test_imports_inside_functions_say_why():
    bare = {f"{path.relative_to(ROOT)}:{line}" for path in _modules()
            for line in bare_imports(path.read_text(encoding="utf-8"))}
    assert not bare, f"imports inside functions with no comment saying why (move them to the top): {sorted(bare)}"
