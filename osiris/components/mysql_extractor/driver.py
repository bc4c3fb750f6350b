"""mysql.extractor: stream a table or query from MySQL/MariaDB as Arrow batches (server-side cursor), or, when the
plan fused it with its CSV writer and every column has an exact server-side form, the file's bytes as the server
formats them (``connectors/mysqlexport.py``, docs/mysql-transfer.md "CSV export")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from osiris.dialects.lock import source_select
from osiris.runtime import drift, exports, incremental
from osiris.runtime.connections import with_connection_schema
from osiris.runtime.connectors import mysql, mysqlcli, mysqlexport, scrub, secrets_of, step_error
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


OFFER_MESSAGE = "csv export offered to its writer (the client may write into its file)"


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
        export = self.step.get("export")
        if isinstance(export, Mapping) and export.get("format") == "csv" and "into" in export:
            exported = self._export(params, sql, export["options"])
            if exported is not None:
                return exported
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

    # -- the server-formatted CSV export -------------------------------------------------------------------------
    def _arrow_path(self, why: str) -> pa.RecordBatchReader | None:
        """Say why this run takes the Arrow path; None (what ``_export`` returns for it)."""
        self.ctx.event("info", {"step": self.ctx.step_id, "message": f"csv export not used: {why}; Arrow path"})
        return None

    def _export(self, params: Mapping[str, Any], sql: str, options: Mapping[str, Any]) -> pa.RecordBatchReader | None:
        """The export stream when this run can take it (else None, with an event saying why: the Arrow path is
        always correct). Decided from the columns the query returns now."""
        binary = mysqlcli.client_binary()
        if not exports.enabled():
            return self._arrow_path("OSIRIS_EXPORT is off")
        if binary is None:
            return self._arrow_path("no mariadb/mysql client on PATH")
        if not mysqlcli.wrappable(sql):
            return self._arrow_path("the query has ORDER BY (MariaDB drops it in a derived table)")
        try:
            described = mysql.describe(params, sql)
        except Exception:
            return self._arrow_path("the query cannot be described")  # the Arrow path reports the error
        drift.check_schema(self.step, mysql.schema_of(described))
        by_name = {c.name: c for c in described}
        names = list(options.get("columns") or [c.name for c in described])
        if len(by_name) != len(described) or any(n not in by_name for n in names):
            return self._arrow_path("the writer's columns are not the query's")  # the writer says which
        crlf = options["newline"] == "crlf"
        plan = mysqlexport.export_sql(
            sql, [by_name[n] for n in names], str(options["delimiter"]), str(options["quoting"]), crlf
        )
        if isinstance(plan, str):
            return self._arrow_path(plan)
        stream = mysqlexport.ExportStream(binary, params, plan)
        if not stream.started():
            stream.close()
            return self._arrow_path("the client failed before its first byte")
        self.ctx.event("info", {"step": self.ctx.step_id, "message": "mysql read path: csv export (server-formatted)"})
        # the writer may take the client's output straight into its file, if it can run now in this process
        token = exports.offer(stream) if self.ctx.concurrent_consumers else None
        if token is not None:
            self.ctx.event("info", {"step": self.ctx.step_id, "message": OFFER_MESSAGE})
        schema = exports.schema("csv", names, token)
        return pa.RecordBatchReader.from_batches(schema, self._export_batches(stream, schema, params, token))

    def _export_batches(
        self, stream: mysqlexport.ExportStream, schema: pa.Schema, params: Mapping[str, Any], token: str | None
    ) -> Iterator[pa.RecordBatch]:
        try:
            with self.ctx.cancel.hook(stream.kill):
                try:
                    if token is not None and exports.take_back(token, exports.CLAIM_S) is None:  # the writer has it
                        stream.done.wait()
                        if stream.error is not None:
                            raise stream.error
                        if stream.out_failed:  # the writer reports why (its file is not kept), as when a writer
                            return  # stops reading batches: the run record must not blame the source
                        if stream.counts is None:
                            raise StepError("the writer stopped before the export ended")
                    else:
                        for chunk in stream.chunks():
                            yield exports.batch(schema, chunk)
                except (StepError, OSError) as exc:
                    text = f"reading rows from {mysql.describe_target(params)} failed: {exc}"
                    raise StepError(scrub(text, secrets_of(params)), retryable=False) from None
            counts = stream.counts
            assert counts is not None
            for column, n in counts.zero_dates.items():
                self._zero_dates(column, n)
            for column, n in counts.bad_dates.items():
                raise StepError(f"column '{column}': {n} value(s) are not valid dates (a zero month or day)")
            yield exports.batch(schema, b"", counts.rows)
        finally:
            if token is not None:
                exports.take_back(token, 0)  # never claimed (the run stopped first): withdraw the offer
            stream.close()
