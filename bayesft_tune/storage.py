"""Atomic Parquet I/O on local paths and pyarrow filesystem URIs (s3://, gs://, file://).

URIs are resolved by pyarrow, which reads the standard AWS settings from the
environment: ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) for an S3-protocol
server other than AWS (MinIO, moto, Ceph; ``http://host:port`` selects plain HTTP),
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` and ``AWS_DEFAULT_REGION``. Ray Tune
resolves a search's ``storage_path`` the same way, in the driver and in every worker,
so one set of variables serves the whole search.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import uuid

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from bayesft_tune.errors import UserInputError
from bayesft_tune.faults import pause_at
from bayesft_tune.schema import SCHEMA_VERSION, TABLES, VERSION_KEY, conform

__all__ = ["join", "read_table", "remove_temporaries", "resolve", "write_file", "write_rows", "write_table"]


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, path)`` for a local path or a URI pyarrow understands.

    Raises:
        UserInputError: the URI's scheme is not a filesystem pyarrow can open here, or
            the URI names no bucket/directory.
    """
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserInputError(f"storage URI must name a filesystem pyarrow can open (a local path, "
                             f"file://, s3://, gs://); got {uri!r}: {reason}. Fix the path or URI.") from err
    if not path.strip("/"):
        raise UserInputError(f"storage URI must name a bucket or directory; got {uri!r}. "
                             "Pass e.g. s3://my-bucket/bayesft.")
    return fs, path


def join(uri: str, *parts: str) -> str:
    """Join path parts onto a local path or URI."""
    return posixpath.join(uri, *parts) if "://" in uri else os.path.join(uri, *parts)


def write_table(frame: pd.DataFrame, run_dir: str, table: str) -> str:
    """Write ``frame`` as ``<run_dir>/<table>.parquet``, conformed to the schema, atomically.

    Returns:
        The path of the written file on its filesystem.
    """
    return write_file(frame, join(run_dir, f"{table}.parquet"), table)


def write_file(frame: pd.DataFrame, file_uri: str, table: str) -> str:
    """Write ``frame`` conformed to ``table``'s schema to a Parquet file, atomically.

    The file is written under a temporary name beside it and moved into place, so
    readers see the old complete file or the new complete file, never a partial one.
    """
    arrow = pa.Table.from_pandas(conform(frame, table), preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[VERSION_KEY.encode()] = str(SCHEMA_VERSION).encode()
    return _write_atomically(arrow.replace_schema_metadata(meta), file_uri, table)


def _write_atomically(arrow: pa.Table, file_uri: str, table: str) -> str:
    fs, final = resolve(file_uri)
    root = posixpath.dirname(final)
    fs.create_dir(root, recursive=True)
    tmp = posixpath.join(root, f".{posixpath.basename(final)}.{uuid.uuid4().hex}.tmp")
    pq.write_table(arrow, tmp, filesystem=fs)
    pause_at(f"table_write:{table}")  # test hook, off unless BAYESFT_PAUSE_AT is set
    fs.move(tmp, final)
    return final


ARROW_TYPES = {"string": pa.large_string(), "Int64": pa.int64(), "float64": pa.float64(), "boolean": pa.bool_()}
"""The Arrow type pandas writes for each schema dtype (a fragment's columns must match the file's)."""


def write_rows(rows: list[dict], file_uri: str, table: str) -> str:
    """Write ``rows`` (dicts of the table's columns) as a Parquet file, atomically, straight to
    Arrow: a few rows cost well under a millisecond of conversion (the pandas path of
    :func:`write_file`, for a whole table, costs milliseconds even for one row). Rows Arrow
    cannot convert take that path, which names the offending column."""
    spec, schema = TABLES[table], _arrow_schema(table)
    try:
        arrow = pa.Table.from_pylist([{k: row.get(k) for k in spec} for row in rows], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return write_file(pd.DataFrame(rows), file_uri, table)
    return _write_atomically(arrow, file_uri, table)


@functools.lru_cache(maxsize=None)
def _arrow_schema(table: str) -> pa.Schema:
    """``table``'s columns as Arrow types, with the schema version (built once per table)."""
    return pa.schema([(name, ARROW_TYPES[dtype]) for name, dtype in TABLES[table].items()],
                     metadata={VERSION_KEY.encode(): str(SCHEMA_VERSION).encode()})


_TEMPORARY = re.compile(r"^\.[^/]+\.parquet\.[0-9a-f]{32}\.tmp$")
"""Name of ``write_file``'s temporary file (``.<table>.parquet.<uuid4 hex>.tmp``)."""


def remove_temporaries(run_dir: str) -> list[str]:
    """Delete the temporary files that writes killed before their move left in ``run_dir``
    (a driver SIGKILLed inside ``write_file``). Call it only while nothing else writes there.

    Returns:
        The names removed.
    """
    fs, root = resolve(run_dir)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return []
    stale = [i for i in fs.get_file_info(pafs.FileSelector(root)) if _TEMPORARY.match(i.base_name)]
    for info in stale:
        fs.delete_file(info.path)
    return [i.base_name for i in stale]


def read_table(run_dir: str, table: str) -> pd.DataFrame:
    """Read ``<run_dir>/<table>.parquet`` into pandas."""
    fs, root = resolve(run_dir)
    return pq.read_table(posixpath.join(root, f"{table}.parquet"), filesystem=fs).to_pandas()
