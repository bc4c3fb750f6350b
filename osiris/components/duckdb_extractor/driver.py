"""duckdb.extractor: stream a table or a query of a DuckDB database file in Arrow batches.

The file is ``path`` (config) or the connection's ``path``, relative to the base directory. TIMESTAMPTZ columns
come out as ``timestamp[us, tz=UTC]`` whatever the machine's time zone (DuckDB labels them with the local zone).
Types Arrow cannot carry exactly come out as ``osiris.dialects.exact`` says (HUGEINT/UHUGEINT as decimal(39,0),
INTERVAL and TIMETZ as text, lists/structs/maps as JSON text); a column name that occurs twice is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from osiris.dialects import exact as exact_values
from osiris.dialects.exact import DuckOutput
from osiris.runtime import duckdb_files, incremental
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.files import resolve_path


def database_path(ctx: StepContext) -> Path:
    value = ctx.config.get("path") or (ctx.connection or {}).get("path")
    if not value:
        raise StepError("no DuckDB database: give `path` in the config or in the @duckdb connection")
    return resolve_path(ctx, str(value))


_STREAM_FAILED = re.compile(
    r"reading the stream registered as '[^']*' failed: (?:\w+: )?(.*?)\.? Detail: Python ", re.S
)


def error_text(exc: BaseException) -> str:
    """DuckDB's message, or only the Python error's when an Arrow stream DuckDB was reading raised it (DuckDB
    appends that error's traceback, which is not for the user)."""
    m = _STREAM_FAILED.search(str(exc))
    return m.group(1) if m else str(exc)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def utc_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every zoned timestamp labelled UTC (the same instants: Arrow stores them in UTC)."""
    fields = [
        f.with_type(pa.timestamp(f.type.unit, "UTC")) if pa.types.is_timestamp(f.type) and f.type.tz else f
        for f in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def exact_reader(con: Any, sql: str, batch_size: int) -> tuple[pa.RecordBatchReader, DuckOutput]:
    """The result of ``sql`` as an Arrow stream in which every value is exact (cast the batches to
    ``DuckOutput.schema``). Raises ValueError for a result that is not rows or names a column twice."""
    rel = con.sql(sql)
    if rel is None:
        raise ValueError("the query returns no rows (it must be a SELECT)")
    exact = DuckOutput.of(rel.columns, [str(t) for t in rel.types])
    if exact.select is not None:
        rel = rel.project(", ".join(exact.select))
    return rel.to_arrow_reader(batch_size), exact


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        cfg = self.ctx.config
        path = database_path(self.ctx)
        if not path.is_file():
            raise StepError(f"DuckDB database '{path.name}' does not exist (looked at {path})")
        if cfg.get("query"):
            sql = str(cfg["query"])
        else:
            cols = ", ".join(quote(c) for c in cfg.get("columns") or []) or "*"
            sql = f"SELECT {cols} FROM {quote(str(cfg.get('schema') or 'main'))}.{quote(str(cfg['table']))}"
        cursor, sql = incremental.sql_for(self.ctx, "duckdb", sql)
        con = duckdb_files.acquire(path)
        try:
            out, exact = exact_reader(con, sql, int(cfg.get("batch_size") or self.ctx.batch_size))
        except (duckdb.Error, ValueError) as exc:
            duckdb_files.release(path, con)
            if cursor is not None:
                cursor.fail(str(exc))
            raise StepError(f"DuckDB '{path.name}': {exc}") from None
        schema = exact.schema(utc_schema(out.schema))
        reader = pa.RecordBatchReader.from_batches(schema, self._stream(con, out, path, schema))
        return incremental.tracked(self.ctx, cursor, reader, sql)

    def _stream(self, con: Any, out: pa.RecordBatchReader, path: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        name = path.name
        try:
            while True:
                try:
                    batch = out.read_next_batch()
                except StopIteration:
                    return
                except duckdb.Error as exc:
                    raise StepError(f"DuckDB '{name}': {exc}") from None
                try:
                    yield exact_values.cast(batch, schema)
                except ValueError as exc:
                    raise StepError(f"DuckDB '{name}': {exc}") from None
        finally:
            duckdb_files.release(path, con)
