"""mysql.extractor: stream a table or query from MySQL/MariaDB as Arrow batches (server-side cursor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.dialects.lock import source_select
from osiris.runtime import incremental
from osiris.runtime.connections import with_connection_schema
from osiris.runtime.connectors import mysql, secrets_of, step_error
from osiris.runtime.driver import StepContext, StepError


def build_query(config: Mapping[str, Any]) -> str:
    """The SQL to run: ``query`` as given, or a SELECT of ``columns`` from ``schema``.``table`` (the text a schema
    lock records, ``source_select``) with limit/offset."""
    sql = source_select("mysql", config)
    if sql is None:
        raise StepError("give either `table` or `query` to say what to extract")
    if config.get("query"):
        return sql
    if config.get("limit"):
        sql += f" LIMIT {int(config['limit'])}"
        if config.get("offset"):
            sql += f" OFFSET {int(config['offset'])}"
    elif config.get("offset"):
        sql += f" LIMIT 18446744073709551615 OFFSET {int(config['offset'])}"
    return sql


class Driver:
    """Extractor: returns a reader; rows stream while the consumer writes the previous batches."""

    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx
        self.path: str | None = None  # force "pymysql" or "mysqlclient" (tests, benchmarks)

    def _zero_dates(self, column: str, count: int) -> None:
        self.ctx.event(
            "warning", {"step": self.ctx.step_id, "message": f"column '{column}': {count} zero date(s) read as NULL"}
        )

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        config = self.ctx.config
        params = mysql.params(config, self.ctx.connection)
        target = mysql.describe_target(params)
        batch_size = int(config.get("batch_size") or self.ctx.batch_size)
        sql = build_query(with_connection_schema(config, self.ctx.connection))
        cursor, query = incremental.sql_for(self.ctx, "mysql", sql)
        reader = mysql.Reader(params, query, batch_size, path=self.path, on_zero_date=self._zero_dates)
        try:
            schema = reader.open()
        except StepError as exc:
            reader.close()
            if cursor is not None:
                cursor.fail(str(exc))
            raise
        except Exception as exc:
            reader.close()
            if cursor is not None:
                cursor.fail(type(exc).__name__)
            raise step_error("extract from", target, exc, secrets_of(params, self.ctx.connection, config)) from None
        self.ctx.event("info", {"step": self.ctx.step_id, "message": f"mysql read path: {reader.path}"})
        out = pa.RecordBatchReader.from_batches(schema, reader.batches(schema))
        return incremental.tracked(self.ctx, cursor, out, query)
