"""supabase.extractor: Supabase is PostgreSQL; this is postgres.extractor's reader (server-side cursor, exact Arrow
batches) over the SELECT that Osiris's REST options describe: ``select`` (or ``columns``) from ``table``, with
``filter`` as WHERE, ``order`` as ORDER BY, ``limit``/``offset`` (postgrest.py), values as query parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.components.supabase_extractor import postgrest
from osiris.dialects.lock import source_select
from osiris.runtime import incremental
from osiris.runtime.connections import with_connection_schema
from osiris.runtime.connectors import postgres
from osiris.runtime.driver import StepContext, StepError


def build_query(config: Mapping[str, Any]) -> tuple[str, list[Any] | None]:
    """The SQL to run and its parameters (None when it has none, so a ``%`` in a ``query`` stays literal)."""
    base = source_select("postgres", config)
    if base is None:
        raise StepError("give either `table` or `query` to say what to extract")
    if config.get("query"):
        return base, None
    condition, params = postgrest.where(config.get("filter"))
    order = postgrest.order_by(config.get("order"))
    sql = base
    if condition:
        sql += f" WHERE {condition}"
    if order:
        sql += f" ORDER BY {order}"
    values: list[Any] = list(params)
    if config.get("limit") is not None:
        sql += f" LIMIT {postgrest.PARAM}"
        values.append(int(config["limit"]))
    if config.get("offset"):
        sql += f" OFFSET {postgrest.PARAM}"
        values.append(int(config["offset"]))
    if not values:
        return sql, None
    # with parameters, psycopg reads % as a placeholder: a % in a quoted identifier is doubled first
    return sql.replace("%", "%%").replace(postgrest.PARAM, "%s"), values


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        batch_size = int(self.ctx.config.get("batch_size") or self.ctx.batch_size)
        query, params = build_query(with_connection_schema(self.ctx.config, self.ctx.connection))
        return incremental.read_sql(self.ctx, "postgres", query, batch_size, postgres.read, params)
