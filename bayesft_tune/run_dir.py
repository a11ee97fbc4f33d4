"""A search's run directory, local or on an object store: :class:`RunDir`, the one home of its
file names, its manifest (``search_config.json``, which also records where the task came
from), its tables and the variable that says where a run lives now. The search, the checks,
the trainables, ``evaluate``, ``repair``, ``watch`` and ``analysis`` all go through it."""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from bayesft_tune.errors import UserInputError
from bayesft_tune.storage import join, read_table, resolve, write_rows, write_table

__all__ = ["CONFIG_FILE", "LOCK_FILE", "PARTS", "REFERENCE_FILE", "RUN_DIR_ENV", "RUN_FILES", "RUN_TABLES", "RunDir",
           "run_files", "storage_root"]

CONFIG_FILE = "search_config.json"
"""The run's manifest: the search's settings, written once when it starts (what makes a
directory resumable); its ``task`` is the reference the workers, ``evaluate`` and ``report`` resolve."""
REFERENCE_FILE = "reference.pt"
"""The ERM reference of the clean-accuracy guard."""
LOCK_FILE = "driver.lock"
"""Held by the one driver running the search (host, PID, start time); removed when it ends."""
RUN_TABLES = ("trials.parquet", "history.parquet")
"""Tables of a search run that no other output may overwrite."""
RUN_FILES = (CONFIG_FILE, *RUN_TABLES, "robustness.parquet", "selection.parquet", REFERENCE_FILE, "tuner.pkl")
"""A search's own files: a directory holding any of them (or Tune's ``experiment_state-*``, the
searcher's ``searcher-state-*``, a ``trial_*`` directory) is a run."""
PARTS = {"history": ("trial_id", "epoch")}
"""Tables that grow by fragments while a search runs (:meth:`RunDir.append`), and the key of
their rows: ``<table>.parts/`` holds one small Parquet file per report, compacted into
``<table>.parquet`` when the search ends (and by ``repair``). Readers take both, a fragment's row
winning over the compacted file's (a compaction cut short leaves rows in both)."""
RUN_PREFIXES = ("experiment_state-", "searcher-state-", "trial_", *(f"{t}.parts" for t in PARTS))
RUN_DIR_ENV = "BAYESFT_RUN_DIR"
"""Where the run directory lives now; the search sets it for every worker of its Ray job (a
restored Tune experiment still carries the paths it had when it started)."""


def storage_root(path: str) -> str:
    """Absolute local path, or the URI unchanged."""
    return path if "://" in path else os.path.abspath(path)


def run_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """The run's own files (and trial directories) that ``directory`` holds; empty: not a run."""
    try:
        entries = fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
    except (OSError, NotADirectoryError):
        return []
    return sorted(i.base_name for i in entries if i.base_name in RUN_FILES or i.base_name.startswith(RUN_PREFIXES))


class RunDir:
    """One run directory (a local path or a URI pyarrow understands: ``s3://``, ``gs://``).

    Args:
        path: the directory; a local path is made absolute.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = storage_root(os.fspath(path))

    @classmethod
    def here(cls) -> "RunDir | None":
        """Where the run lives now, in the driver and every worker of its search
        (:data:`RUN_DIR_ENV`); None outside a search."""
        path = os.environ.get(RUN_DIR_ENV)
        return cls(path) if path else None

    def env(self) -> dict[str, str]:
        """The environment that tells a worker where this run lives now."""
        return {RUN_DIR_ENV: self.path}

    def __repr__(self) -> str:
        return f"RunDir({self.path!r})"

    def join(self, *parts: str) -> str:
        """A path (or URI) inside the run."""
        return join(self.path, *parts)

    def _fs(self) -> tuple[pafs.FileSystem, str]:
        return resolve(self.path)

    def has(self, name: str) -> bool:
        """Whether the run holds the file ``name``."""
        fs, root = self._fs()
        return fs.get_file_info(f"{root}/{name}").type == pafs.FileType.File

    def mtime(self, name: str) -> float | None:
        """When the run's file ``name`` was last written (epoch seconds), or None if it has none."""
        fs, root = self._fs()
        info = fs.get_file_info(f"{root}/{name}")
        return info.mtime.timestamp() if info.type == pafs.FileType.File and info.mtime else None

    def kind(self) -> pafs.FileType:
        """What the path is: a directory, a file, or not found."""
        fs, root = self._fs()
        return fs.get_file_info(root).type

    def read_bytes(self, name: str) -> bytes:
        """The bytes of the run's file ``name`` (OSError/FileNotFoundError if it has none)."""
        fs, root = self._fs()
        with fs.open_input_stream(f"{root}/{name}") as f:
            return f.read()

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write the run's file ``name`` (the directory is made if needed)."""
        fs, root = self._fs()
        fs.create_dir(root, recursive=True)
        with fs.open_output_stream(f"{root}/{name}") as f:
            f.write(data)

    def is_run(self) -> bool:
        """Whether a search wrote its manifest here (a run that can be resumed)."""
        return self.has(CONFIG_FILE)

    def own_files(self) -> list[str]:
        """The run's own files it holds (:data:`RUN_FILES`); empty: no run's files at all."""
        return run_files(*self._fs())

    def manifest(self) -> dict[str, Any] | None:
        """The search's settings (``search_config.json``) as a dict, or None if it has none.

        Raises:
            UserInputError: the file is not a JSON object.
        """
        try:
            values = json.loads(self.read_bytes(CONFIG_FILE).decode("utf-8"))
        except (OSError, FileNotFoundError):
            return None
        except (UnicodeDecodeError, ValueError) as err:
            raise UserInputError(f"{self.join(CONFIG_FILE)} is not valid JSON ({err}); restore it from the "
                                 "settings the search printed when it started, or start a new search.") from err
        if not isinstance(values, dict):
            raise UserInputError(f"{self.join(CONFIG_FILE)} must hold a JSON object of search settings; got "
                                 f"{type(values).__name__}. Restore the file, or start a new search.")
        return values

    def write_manifest(self, values: dict[str, Any]) -> None:
        """Write ``search_config.json`` (once, when the search starts)."""
        self.write_bytes(CONFIG_FILE, json.dumps(values, indent=2).encode())

    def task(self) -> str | None:
        """The task reference the run's manifest records (None: no manifest, or the default task)."""
        task = (self.manifest() or {}).get("task")
        return task if isinstance(task, str) else None

    def read_table(self, table: str) -> pd.DataFrame:
        """``<run>/<table>.parquet`` into pandas, with the fragments of a table that grows by them
        (:data:`PARTS`; the file may then be missing). Raises OSError/FileNotFoundError if neither is there."""
        parts = self.parts(table)
        if not parts:
            return read_table(self.path, table)
        frames = [read_table(self.path, table)] if self.has(f"{table}.parquet") else []
        fs, _ = self._fs()
        frames += [pq.read_table(p, filesystem=fs).to_pandas() for p in parts]
        both = pd.concat(frames, ignore_index=True)
        return both.drop_duplicates(list(PARTS[table]), keep="last").reset_index(drop=True)

    def write_table(self, frame: pd.DataFrame, table: str) -> str:
        """Write ``frame`` as ``<run>/<table>.parquet``, conformed to the schema, atomically; for a
        table that grows by fragments, ``frame`` is the whole table and the fragments go (compaction)."""
        path = write_table(frame, self.path, table)
        if table in PARTS:
            fs, root = self._fs()
            if fs.get_file_info(f"{root}/{table}.parts").type == pafs.FileType.Directory:
                fs.delete_dir(f"{root}/{table}.parts")
        return path

    def append(self, rows: list[dict], table: str, name: str) -> str:
        """Add ``rows`` to ``table`` as the fragment ``name`` (O(rows), whatever the table's size)."""
        return write_rows(rows, self.join(f"{table}.parts", f"{name}.parquet"), table)

    def remove_parts(self, table: str, names: list[str]) -> None:
        """Delete the fragments ``names`` of ``table`` (their rows are in a fragment written since)."""
        fs, root = self._fs()
        for name in names:
            fs.delete_file(f"{root}/{table}.parts/{name}.parquet")

    def parts(self, table: str) -> list[str]:
        """The fragment files of ``table`` in write order of their names (empty: none)."""
        if table not in PARTS:
            return []
        fs, root = self._fs()
        try:
            found = fs.get_file_info(pafs.FileSelector(f"{root}/{table}.parts", allow_not_found=True))
        except (OSError, NotADirectoryError):
            return []
        return sorted(i.path for i in found if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
                      and not i.base_name.startswith("."))
