"""postgres.extractor: stream a table or query through a server-side cursor as exact Arrow batches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.dialects.lock import source_select
from osiris.runtime import incremental
from osiris.runtime.connections import with_connection_schema
from osiris.runtime.connectors import postgres
from osiris.runtime.driver import StepContext, StepError


def build_query(config: Mapping[str, Any]) -> str:
    """``query`` as given, or a SELECT of ``columns`` from ``table`` (``schema.table`` allowed): the same text a
    schema lock records (``source_select``)."""
    sql = source_select("postgres", config)
    if sql is None:
        raise StepError("give either `table` or `query` to say what to extract")
    return sql


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        batch_size = int(self.ctx.config.get("batch_size") or self.ctx.batch_size)
        sql = build_query(with_connection_schema(self.ctx.config, self.ctx.connection))
        return incremental.read_sql(self.ctx, "postgres", sql, batch_size, postgres.read)
