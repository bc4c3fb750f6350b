"""mysql.writer: execute the step's write plan (docs/ddl.md) on MySQL/MariaDB.

DDL (create, add columns) runs first because MySQL commits it implicitly; every data change (prepare DML, the
bulk load, finalize) is in one transaction, rolled back on any failure. The bulk load is ``LOAD DATA LOCAL INFILE``
of one temporary file per batch (``connectors.mysqlload``) when the server allows it (``@@local_infile``) and every
column type has an exact text form; otherwise multi-row INSERTs.
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
from osiris.runtime.connectors import mysql, mysqlload, postgres, scrub, secrets_of, step_error
from osiris.runtime.driver import StepContext, StepError, single_input

ROWS_PER_INSERT = 2000


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


def _load_file(cur: Any, table: str, names: list[str], content: bytes, hexed: list[bool]) -> None:
    """LOAD DATA LOCAL INFILE of ``content`` through a private temporary file, removed right after."""
    fd, path = tempfile.mkstemp(prefix="osiris-load-", suffix=".tsv")
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
        try:
            conn = mysql.connect_pymysql(p, autocommit=False, local_infile=self.bulk is not False)
        except Exception as exc:
            raise step_error("connect to", target, exc, secrets, retryable=True) from None
        phase = "check"
        try:
            with conn.cursor() as cur:
                result = dialects.check_existing("mysql", conn, plan)
                if result.status in ("incompatible", "missing"):
                    raise StepError(result.message or f"target table is {result.status}")
                for sql in result.statements:
                    cur.execute(sql)
                phase = "prepare"
                for sql in plan["statements"]["prepare"]:
                    cur.execute(sql)
                phase = "load"
                names = list(plan["load_columns"])
                cols = ", ".join("`" + n.replace("`", "``") + "`" for n in names)
                sql = (
                    f"INSERT INTO {plan['load_table']['qualified']} ({cols}) VALUES ({', '.join(['%s'] * len(names))})"
                )
                load_table = str(plan["load_table"]["qualified"])
                bulk = self.bulk
                if bulk is None:
                    cur.execute("SELECT @@local_infile")
                    bulk = bool(cur.fetchone()[0])
                for batch in reader:
                    selected = batch.select(names)
                    _refuse_non_finite(selected)
                    encoded = mysqlload.encode(selected) if bulk else None
                    if encoded is not None:
                        if selected.num_rows:
                            _load_file(cur, load_table, names, *encoded)
                    else:
                        rows = _values(selected)
                        for start in range(0, len(rows), ROWS_PER_INSERT):
                            cur.executemany(sql, rows[start : start + ROWS_PER_INSERT])
                    self.ctx.progress(batch.num_rows, batch.nbytes)
                phase = "finalize"
                for sql in plan["statements"]["finalize"]:
                    cur.execute(sql)
            phase = "commit"
            conn.commit()
        except Exception as exc:
            with contextlib.suppress(Exception):
                conn.rollback()
            if isinstance(exc, StepError):
                raise StepError(scrub(f"{phase} {target}: {exc}", secrets)) from None
            raise step_error(phase, target, exc, secrets) from None
        finally:
            with contextlib.suppress(Exception):
                conn.close()
