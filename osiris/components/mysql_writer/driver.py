"""mysql.writer: execute the step's write plan (docs/ddl.md) on MySQL/MariaDB.

DDL (create, add columns) runs first because MySQL commits it implicitly; every data change (prepare DML, the
bulk load, finalize) is in one transaction, rolled back on any failure. The bulk load goes into the target itself
when a ``replace`` finds it new or empty (``_choose_load``), else where the plan says; it is ``LOAD DATA LOCAL
INFILE`` of one temporary file per batch (``connectors.mysqlload``) when the server allows it (``@@local_infile``)
and every column type has an exact text form; otherwise multi-row INSERTs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from osiris import dialects
from osiris.runtime import incremental
from osiris.runtime.connectors import mysql, mysqlload, mysqlwrite, postgres, scrub, secrets_of, step_error
from osiris.runtime.driver import StepContext, StepError, single_input

ROWS_PER_INSERT = 2000
BATCH_FILE = "<one temporary file per batch>"  # how the ddl record shows LOAD DATA's file


def _values(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    cols = []
    for col in batch.columns:
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:  # stored as UTC wall-clock time
            cols.append(col.cast(pa.timestamp(col.type.unit, "UTC")).cast(pa.timestamp(col.type.unit)).to_pylist())
        else:
            cols.append(col.to_pylist())
    return list(zip(*cols, strict=True))


def _refuse_non_finite(batch: pa.RecordBatch) -> None:
    """MySQL/MariaDB have no NaN or infinity: LOAD DATA would store 0 and INSERT fails obscurely; refuse clearly."""
    import pyarrow.compute as pc

    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_floating(col.type) and pc.all(pc.is_finite(col)).as_py() is False:
            raise StepError(f"column '{name}' holds NaN or infinity, which MySQL/MariaDB cannot store")


def _load_file(cur: Any, table: str, names: list[str], content: bytes, hexed: list[bool], *, tmp: Path) -> None:
    """LOAD DATA LOCAL INFILE of ``content`` through a private temporary file in the run's ``tmp`` folder
    (removed with it, or by the next run when this process is killed), removed right after."""
    tmp.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="osiris-load-", suffix=".tsv", dir=tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        cur.execute(mysqlload.load_sql(path, table, names, hexed))
    finally:
        Path(path).unlink()


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx
        self.bulk: bool | None = None  # force LOAD DATA (True) or INSERTs (False); None: LOAD DATA when allowed

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        reader = single_input(inputs, "mysql.writer")
        p = mysql.params(self.ctx.config, self.ctx.connection)
        secrets = secrets_of(p, self.ctx.connection, self.ctx.config)
        plan = postgres.resolve_plan(self.step, reader.schema)
        target = str(plan["target"]["qualified"])
        timeout = int(self.ctx.config.get("lock_timeout") or mysqlwrite.DEFAULT_LOCK_TIMEOUT)
        try:
            conn = mysql.connect_pymysql(p, autocommit=False, local_infile=self.bulk is not False)
        except Exception as exc:
            raise step_error("connect to", target, exc, secrets, retryable=True) from None
        write = _Write(self, conn, plan, timeout, reconnect=lambda: mysql.connect_pymysql(p, autocommit=True))
        try:
            write.run(reader, p.get("database"))
        except Exception as exc:
            message = write.failure(exc)
            raise StepError(scrub(message, secrets), retryable=isinstance(exc, StepError) and exc.retryable) from None
        finally:
            with contextlib.suppress(Exception):
                write.conn.close()  # also releases the named lock
            if write.executed:  # what ran, committed or rolled back (never row data)
                self.ctx.event("ddl", {"statements": write.executed, "target": target})


class _Write:
    """One execution of the write plan on ``conn``; ``failure`` rolls back, undoes the DDL and words the error."""

    def __init__(self, driver: Driver, conn: Any, plan: Mapping[str, Any], timeout: int, *, reconnect: Any):
        self.driver, self.ctx, self.conn, self.plan, self.timeout = driver, driver.ctx, conn, plan, timeout
        self.reconnect = reconnect  # a new connection, for undoing DDL when the server ended this one (KILL)
        self.target = str(plan["target"]["qualified"])
        self.names = (str(plan["target"]["schema"] or ""), str(plan["target"]["table"]))
        self.phase = "connect to"
        self.executed: list[str] = []
        self.undo: list[str] = []  # DDL to reverse on failure (MySQL commits it at once)
        self.first_row: int | None = None
        self.lock: str | None = None

    def _execute(self, cur: Any, sql: str) -> None:
        self.executed.append(sql)
        cur.execute(sql)

    def _waiting(self, message: str) -> None:
        self.ctx.event("info", {"step": self.ctx.step_id, "message": message})

    def run(self, reader: pa.RecordBatchReader, database: str | None) -> None:
        plan = self.plan
        with self.conn.cursor() as cur:
            mysqlwrite.setup_session(cur, self.timeout, self.executed)
            if not self.names[0]:
                cur.execute("SELECT DATABASE()")
                self.names = (str(cur.fetchone()[0] or database or ""), self.names[1])
            self.phase = "lock"
            self.lock = mysqlwrite.acquire(cur, *self.names, self.timeout, done=self.executed, on_wait=self._waiting)
            self.phase = "check"
            result = dialects.check_existing("mysql", self.conn, dict(plan))
            if result.status in ("incompatible", "missing"):
                raise StepError(result.message or f"target table is {result.status}")
            for sql in result.statements:
                self._execute(cur, sql)
                self.undo.append(mysqlwrite.drop_added_column(sql))
            self.phase = "prepare"
            ddl = [sql for sql in plan["statements"]["prepare"] if sql.startswith("CREATE TABLE")]
            for sql in ddl:  # commits implicitly: before the transaction's first data statement
                self._execute(cur, sql)
                if result.status == "create" and cur.warning_count == 0:
                    self.undo.append(f"DROP TABLE IF EXISTS {self.target}")  # created now, not there before
            self.plan = plan = self._choose_load(cur, result.status)
            for sql in plan["statements"]["prepare"]:
                if sql not in ddl:
                    self._execute(cur, sql)
            self.phase = "load"
            self._load(cur, reader)
            self.phase = "finalize"
            self.first_row = None
            for sql in plan["statements"]["finalize"]:
                self._execute(cur, sql)
                if sql.startswith("INSERT"):
                    mysqlwrite.check_warnings(cur)
            incremental.before_commit(self.ctx, cur, self.executed)  # the sources' new marks, with the rows
        self.phase = "commit"
        self.executed.append("COMMIT")
        self.conn.commit()

    def _choose_load(self, cur: Any, status: str) -> Mapping[str, Any]:
        """A `replace` into a table this run creates or finds empty loads straight into it (no staging table, no
        second copy). A table that looks empty is probed again with a locking read: on an empty InnoDB table it
        locks the end of the key range, so no other session can insert until this transaction ends (a table with
        rows is not locked by the probe)."""
        if self.plan["mode"] != "replace":
            return self.plan
        if status != "create":
            for probe in (f"SELECT 1 FROM {self.target} LIMIT 1", f"SELECT 1 FROM {self.target} LIMIT 1 FOR UPDATE"):
                self._execute(cur, probe)
                if cur.fetchone() is not None:
                    return self.plan
        return dialects.load_directly(self.plan)

    def _load(self, cur: Any, reader: pa.RecordBatchReader) -> None:
        names = list(self.plan["load_columns"])
        missing = [n for n in names if n not in reader.schema.names]
        if missing:
            raise StepError(f"input has no column(s) {', '.join(missing)}")
        load_table = str(self.plan["load_table"]["qualified"])
        cols = ", ".join("`" + n.replace("`", "``") + "`" for n in names)
        insert = f"INSERT INTO {load_table} ({cols}) VALUES ({', '.join(['%s'] * len(names))})"
        bulk = self.driver.bulk
        if bulk is None:
            cur.execute("SELECT @@local_infile")
            bulk = int(cur.fetchone()[0]) == 1  # text: the connection has no result converters
        row, recorded = 0, False
        for batch in reader:
            selected = batch.select(names)
            _refuse_non_finite(selected)
            encoded = mysqlload.encode(selected) if bulk else None
            if not recorded and selected.num_rows:  # the load statement, once (its file differs per batch)
                shown = mysqlload.load_sql(BATCH_FILE, load_table, names, encoded[1]) if encoded else insert
                self.executed.append(shown)
                recorded = True
            if encoded is not None:
                if selected.num_rows:
                    self.first_row = row
                    _load_file(cur, load_table, names, *encoded, tmp=self.driver.ctx.run_dir / "tmp")
                    mysqlwrite.check_stored(cur, selected.num_rows, row)
            else:
                rows = _values(selected)
                for start in range(0, len(rows), ROWS_PER_INSERT):
                    chunk = rows[start : start + ROWS_PER_INSERT]
                    self.first_row = row + start
                    cur.executemany(insert, chunk)
                    mysqlwrite.check_stored(cur, len(chunk), row + start)
            row += selected.num_rows
            self.ctx.progress(batch.num_rows, batch.nbytes)

    def failure(self, exc: BaseException) -> str:
        """Roll back, undo this run's DDL, and return the message: the phase, the target and what the server
        refused (the key or column at fault)."""
        message = self._explain(exc)
        if self.executed[-1:] == ["COMMIT"]:
            self.executed.pop()  # the commit itself failed
        self.executed.append("ROLLBACK")
        with contextlib.suppress(Exception):
            self.conn.rollback()
        undone = self._undo()
        return f"{self.phase} {self.target}: {message}{undone}"

    def _explain(self, exc: BaseException) -> str:
        if isinstance(exc, StepError):
            return str(exc)
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        text = str(exc.args[1]) if code is not None and len(exc.args) > 1 else str(exc)
        if code == mysqlwrite.LOCK_WAIT_TIMEOUT:
            return mysqlwrite.locked_out(*self.names, self.timeout)
        refused = exc if isinstance(exc, mysqlwrite.Refused) else None
        if refused is None and code is not None and code >= 1000:
            refused = mysqlwrite.Refused(code, text, self.first_row)
        if refused is None:
            return f"{type(exc).__name__}: {exc}"
        table = self.target if self.phase != "load" else str(self.plan["load_table"]["qualified"])
        # in the load, a duplicate key is one the input holds twice: staging has no other rows, nor has the target
        # a `replace` emptied (or found empty) before loading into it
        staged = self.phase == "load" and (table != self.target or self.plan["mode"] == "replace")
        with self.conn.cursor() as cur:
            return mysqlwrite.refusal(cur, refused, table, staged=staged)

    def _alive(self) -> bool:
        """The connection still works; else (the server ended it: KILL, restart) a new one holding the target's
        named lock again, so the undo cannot hit a table another run has begun writing meanwhile."""
        try:
            self.conn.ping(reconnect=False)
            return True
        except Exception:
            pass
        with contextlib.suppress(Exception):
            self.conn.close()
        try:
            self.conn = self.reconnect()
            with self.conn.cursor() as cur:
                mysqlwrite.setup_session(cur, self.timeout, self.executed)
                mysqlwrite.acquire(cur, *self.names, self.timeout, done=self.executed, on_wait=self._waiting)
            return True
        except Exception:
            return False

    def _undo(self) -> str:
        """Reverse the DDL this run committed (newest first); a note when that fails too."""
        if self.undo and not self._alive():
            return f"; could not undo (no connection): {'; '.join(reversed(self.undo))}"
        failed = []
        with self.conn.cursor() as cur:
            for sql in reversed(self.undo):
                try:
                    self._execute(cur, sql)
                except Exception as exc:
                    failed.append(f"{sql}: {exc}")
        return f"; could not undo: {'; '.join(failed)}" if failed else ""
