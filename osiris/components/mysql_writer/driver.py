"""mysql.writer: execute the step's write plan (docs/ddl.md) on MySQL/MariaDB.

DDL (create, add columns) runs first because MySQL commits it implicitly; every data change (prepare DML, the
bulk load as multi-row INSERTs, finalize) is in one transaction, rolled back on any failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris import dialects
from osiris.runtime.connectors import mysql, postgres, scrub, secrets_of, step_error
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


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        reader = single_input(inputs, "mysql.writer")
        p = mysql.params(self.ctx.config, self.ctx.connection)
        secrets = secrets_of(p, self.ctx.connection, self.ctx.config)
        plan = postgres.resolve_plan(self.step, reader.schema)
        target = str(plan["target"]["qualified"])
        try:
            conn = mysql.connect_pymysql(p, autocommit=False)
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
                for batch in reader:
                    rows = _values(batch.select(names))
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
