"""postgres.extractor: stream a table or query through a server-side cursor as exact Arrow batches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.runtime.connectors import postgres
from osiris.runtime.driver import StepContext, StepError


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_query(config: Mapping[str, Any]) -> str:
    """``query`` as given, or a SELECT of ``columns`` from ``table`` (``schema.table`` allowed)."""
    if config.get("query"):
        return str(config["query"]).strip().rstrip(";")
    if not config.get("table"):
        raise StepError("give either `table` or `query` to say what to extract")
    cols = ", ".join(_quote(c) for c in config.get("columns") or ()) or "*"
    table = ".".join(_quote(p) for p in str(config["table"]).split("."))
    if config.get("schema") and "." not in str(config["table"]):
        table = f"{_quote(config['schema'])}.{table}"
    sql = f"SELECT {cols} FROM {table}"
    if config.get("limit"):
        sql += f" LIMIT {int(config['limit'])}"
    if config.get("offset"):
        sql += f" OFFSET {int(config['offset'])}"
    return sql


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        batch_size = int(self.ctx.config.get("batch_size") or self.ctx.batch_size)
        return postgres.read(self.ctx, build_query(self.ctx.config), batch_size)
