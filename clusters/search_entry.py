"""Run ``bayesft-tune search`` on the head node of a cluster from clusters/*.yaml.

From the repository root::

    ray up clusters/gpu.yaml
    ray submit clusters/gpu.yaml clusters/search_entry.py -- <search flags>
    ray down clusters/gpu.yaml

(``clusters/gcp-gpu.yaml`` and ``clusters/local.yaml`` work the same way.)

``ray submit`` copies only this file to ``~/search_entry.py`` on the head node
and runs ``python ~/search_entry.py <search flags>`` there, in the venv the
cluster YAML installed the project into. So this file imports nothing but the
installed ``bayesft_tune`` package and parses no flags itself: it calls
``bayesft_tune.cli.main(["search", "--address", "auto", *flags])``, leaving
out ``--address auto`` when the flags already give an ``--address``.

``ray submit`` joins the flags with spaces without quoting them, so a flag
value containing spaces or shell characters must be quoted twice, e.g.
``-- --name "'my run'"``.

Your own task: copy its file next to this one on the head node, then name it
relative to it (the search ships it to every worker with the job's runtime_env)::

    ray rsync-up clusters/gpu.yaml my_task.py '~/my_task.py'
    ray submit clusters/gpu.yaml clusters/search_entry.py -- --task my_task.py:TASK
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def search_argv(flags: list[str]) -> list[str]:
    """The CLI argv for ``flags``: ``search``, ``--address auto`` unless given, and a relative
    ``--task file.py:NAME`` that is not in the working directory taken from beside this file."""
    flags = [_beside_me(f) if i and flags[i - 1] == "--task" else f for i, f in enumerate(flags)]
    given = any(f == "--address" or f.startswith("--address=") for f in flags)
    return ["search", *flags] if given else ["search", "--address", "auto", *flags]


def _beside_me(task: str) -> str:
    path, sep, name = task.rpartition(":")
    if sep and path.endswith(".py") and not os.path.isabs(path) and not os.path.exists(path) and \
            os.path.exists(os.path.join(HERE, path)):
        return f"{os.path.join(HERE, path)}:{name}"
    return task


def main(flags: list[str] | None = None) -> object:
    """Run the search CLI with ``flags`` (default: this script's arguments)."""
    from bayesft_tune.cli import main as cli_main

    return cli_main(search_argv(list(sys.argv[1:] if flags is None else flags)))


if __name__ == "__main__":
    sys.exit(main())
