"""Shared DuckDB database files within one process.

DuckDB's Python client caches one database instance per file; two threads that connect to (or close) the same
file at the same time race on that instance, and a query may then fail with "Table Function with name
python_arrow_scan does not exist" (reproduced with two writers into one file). Steps that open a DuckDB file do it
here: one base connection per file, created and closed under a lock, and a cursor (its own connection to the same
instance) per step.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# duckdb is imported on first use: it is the DuckDB components' requirement, not the runtime's own.
_lock = threading.Lock()
_open: dict[str, tuple[Any, int]] = {}


def acquire(path: Path) -> Any:
    """A connection of its own (a ``duckdb.DuckDBPyConnection``) to the database file ``path``; give it back with
    ``release``."""
    import duckdb

    key = str(path.resolve())
    with _lock:
        base, users = _open.get(key, (None, 0))
        if base is None:
            base = duckdb.connect(key)
        _open[key] = (base, users + 1)
        return base.cursor()


def release(path: Path, con: Any) -> None:
    key = str(path.resolve())
    with _lock:
        con.close()
        base, users = _open[key]
        if users == 1:
            del _open[key]
            base.close()
        else:
            _open[key] = (base, users - 1)


@contextmanager
def connected(path: Path) -> Iterator[Any]:
    con = acquire(path)
    try:
        yield con
    finally:
        release(path, con)
