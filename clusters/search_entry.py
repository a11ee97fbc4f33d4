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
"""

from __future__ import annotations

import sys


def search_argv(flags: list[str]) -> list[str]:
    """The CLI argv for ``flags``: ``search``, ``--address auto`` unless given."""
    given = any(f == "--address" or f.startswith("--address=") for f in flags)
    return ["search", *flags] if given else ["search", "--address", "auto", *flags]


def main(flags: list[str] | None = None) -> object:
    """Run the search CLI with ``flags`` (default: this script's arguments)."""
    from bayesft_tune.cli import main as cli_main

    return cli_main(search_argv(list(sys.argv[1:] if flags is None else flags)))


if __name__ == "__main__":
    sys.exit(main())
