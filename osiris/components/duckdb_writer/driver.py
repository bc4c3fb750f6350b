"""duckdb.writer: load the input into a table of a DuckDB database file in ONE transaction (docs/ddl.md).

It runs the plan's ``write`` object: ``check_existing`` (create / add columns / refuse), ``statements.prepare``,
a bulk insert of the Arrow stream into ``load_table``, ``statements.finalize``, COMMIT; any error rolls everything
back, so the target is as it was. When the plan's ``columns`` are null (schema unknown at build time) the plan is
completed at run time from the input's Arrow schema with ``osiris.dialects``. Executed statements (committed or
rolled back) are reported as a ``ddl`` event (recorded in the run directory). A database file another process
holds is waited for, up to ``lock_timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from osiris import dialects
from osiris.components.duckdb_extractor.driver import database_path, error_text
from osiris.dialects.exact import duckdb_reader
from osiris.runtime import duckdb_files, incremental
from osiris.runtime.driver import StepContext, StepError, single_input

LOCK_TIMEOUT = 30  # seconds; the `lock_timeout` default
_HELD_BY = re.compile(r"\(PID (\d+)\)")


def open_locked(path: Path, plan: Mapping[str, Any], seconds: float, ctx: StepContext) -> Any:
    """A connection to the database file ``path``, waiting up to ``seconds`` while another process holds the
    file (a DuckDB file has one writing process at a time; DuckDB refuses to open it rather than wait)."""
    deadline = time.monotonic() + seconds
    delay = 0.05
    name = f"{plan['target'].get('schema') or 'main'}.{plan['target']['table']}"
    waiting = False
    while True:
        try:
            return duckdb_files.acquire(path)
        except duckdb.IOException as exc:
            if "could not set lock" not in str(exc).lower():
                raise StepError(f"DuckDB {path.name}: {exc}") from None
            held = _HELD_BY.search(str(exc))
            who = f"another process (PID {held.group(1)})" if held else "another process"
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepError(
                    f"{who} holds {path.name}, so {name} cannot be written (waited {seconds:g} s for its lock)"
                ) from None
            ctx.cancel.check()  # a cancelled run stops waiting for the file
            if not waiting:
                message = f"{who} holds {path.name}; waiting up to {seconds:g} s to write {name}"
                ctx.event("info", {"step": ctx.step_id, "message": message})
                waiting = True
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.5)


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def _plan(self, schema: pa.Schema) -> dict[str, Any]:
        cfg = self.ctx.config
        write = dict(self.step.get("write") or {})
        target = write.get("target") or {"schema": cfg.get("schema"), "table": cfg.get("table")}
        columns = write.get("columns")
        if columns is not None and write.get("statements") is not None:
            return write
        try:
            return dialects.plan_write(
                "duckdb",
                {"schema": target.get("schema"), "table": target.get("table")},
                write.get("mode") or cfg.get("write_mode", "append"),
                columns if columns is not None else dialects.columns_from_arrow(schema),
                write.get("primary_key", cfg.get("primary_key")),
                schema_evolution=write.get("schema_evolution") or cfg.get("schema_evolution", "fail"),
                create_if_missing=write.get("create_if_missing", cfg.get("create_if_missing", True)),
                replace_strategy=write.get("replace_strategy") or cfg.get("replace_strategy"),
            )
        except dialects.PlanError as exc:
            raise StepError(f"cannot plan the write: {exc}") from None

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        reader = single_input(inputs, "duckdb.writer")
        plan = self._plan(reader.schema)
        path = database_path(self.ctx)
        path.parent.mkdir(parents=True, exist_ok=True)
        target = plan["target"]["qualified"]
        executed: list[str] = []
        con = open_locked(path, plan, float(self.ctx.config.get("lock_timeout") or LOCK_TIMEOUT), self.ctx)
        unhook = self.ctx.cancel.add_hook(con.interrupt)  # a cancelled run interrupts the statement in progress
        try:
            con.execute("BEGIN TRANSACTION")
            check = dialects.check_existing("duckdb", con, plan)
            if check.status in ("incompatible", "missing"):
                raise StepError(check.message)
            plan = self._choose_load(con, plan, check)
            for sql in [*check.statements, *plan["statements"]["prepare"]]:
                executed.append(sql)
                con.execute(sql)
            names = [f.name for f in reader.schema]
            load_cols = list(plan["load_columns"])
            if set(load_cols) - set(names):
                raise StepError(f"input lacks columns {sorted(set(load_cols) - set(names))} of {target}")
            cols = ", ".join('"' + c.replace('"', '""') + '"' for c in load_cols)
            reader = duckdb_reader(reader, plan["columns"])  # precision > 38: loaded as exact text (dialects/exact.py)
            con.register("__osiris_input", pa.RecordBatchReader.from_batches(reader.schema, self._count(reader)))
            load = f"INSERT INTO {plan['load_table']['qualified']} ({cols}) SELECT {cols} FROM __osiris_input"
            executed.append(load)
            con.execute(load)
            con.unregister("__osiris_input")
            for sql in plan["statements"]["finalize"]:
                executed.append(sql)
                con.execute(sql)
            incremental.before_commit(self.ctx, con, executed)  # the sources' new marks, with the rows
            con.execute("COMMIT")
            executed.append("COMMIT")
        except BaseException as exc:
            unhook()
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
                executed.append("ROLLBACK")
            duckdb_files.release(path, con)
            self._record(executed, target, path)
            if isinstance(exc, duckdb.Error):
                raise StepError(f"DuckDB {path.name} {target}: {error_text(exc)}") from None
            raise
        unhook()
        duckdb_files.release(path, con)
        self._record(executed, target, path)

    @staticmethod
    def _choose_load(con: Any, plan: dict[str, Any], check: Any) -> dict[str, Any]:
        """A `replace` into a table this run creates or finds empty loads straight into it (no staging table); the
        file has one writing process (this one), so nothing can fill the table meanwhile."""
        if plan["mode"] != "replace":
            return plan
        if check.status != "create":
            probe = f"SELECT count(*) = 0 FROM (SELECT 1 FROM {plan['target']['qualified']} LIMIT 1)"
            if not con.execute(probe).fetchone()[0]:  # a read: not in the record, which lists changes from CREATE on
                return plan
        return dialects.load_directly(plan)

    def _record(self, executed: list[str], target: str, path: Path) -> None:
        if executed:
            self.ctx.event("ddl", {"statements": executed, "target": target, "database": path.name})

    def _count(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            self.ctx.progress(batch.num_rows, batch.nbytes)
            yield batch
