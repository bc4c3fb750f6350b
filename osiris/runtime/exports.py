"""Server-formatted export streams (docs/mysql-transfer.md, "CSV export"): how a fused extractor hands a file's
bytes to its writer through the ordinary channel.

The plan marks a fused pair (``export`` in both steps' entries, from the ``plan_exports`` pass). When the run
starts, the extractor decides from the columns it finds whether its server can write the exact bytes; if so it
returns an export stream instead of the rows: batches of one row, ``data`` (bytes of the file, in order) and
``rows`` (the table rows those bytes end; the count arrives with the last batch), under a schema whose metadata
names the format and the columns. The writer writes ``data`` as it comes; anything else it reads as rows.
``OSIRIS_EXPORT=off`` makes every extractor take the Arrow path (tests compare the two).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import pyarrow as pa

KEY = b"osiris.export"
COLUMNS = b"osiris.export.columns"


def enabled() -> bool:
    return os.environ.get("OSIRIS_EXPORT", "").lower() not in ("off", "0", "false", "no")


def schema(fmt: str, columns: Sequence[str]) -> pa.Schema:
    metadata = {KEY: fmt.encode(), COLUMNS: json.dumps(list(columns)).encode()}
    return pa.schema([pa.field("data", pa.binary(), nullable=False), pa.field("rows", pa.int64(), False)], metadata)


def format_of(s: pa.Schema) -> str | None:
    """The export format of a stream's schema (None: a stream of rows)."""
    value = (s.metadata or {}).get(KEY)
    return value.decode() if value is not None else None


def columns_of(s: pa.Schema) -> list[str]:
    return list(json.loads((s.metadata or {})[COLUMNS]))


def batch(s: pa.Schema, data: bytes, rows: int = 0) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([data], pa.binary()), pa.array([rows], pa.int64())], schema=s)


def rows_of(b: pa.RecordBatch) -> int:
    """Table rows in a batch: its row count, or for an export stream the rows its bytes end."""
    if b.schema.metadata is None or KEY not in b.schema.metadata:
        return b.num_rows
    return int(b.column(1)[0].as_py()) if b.num_rows == 1 else sum(b.column(1).to_pylist())
