"""postgres.writer and duckdb.writer: a failure in the LAST batch leaves the target exactly as before, in every
write mode (and a table being created is not created); an upsert keeps the LAST row of duplicate keys in one
input, on every SQL target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pymysql
import pytest
from writer_data import SCHEMA, stream, text

from osiris import dialects
from osiris.components.duckdb_writer.driver import Driver as DuckDBWriter
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.runtime.driver import StepContext, StepError

pytestmark = pytest.mark.db

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
PG_CONN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test", "password": ""}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
N = 250_000  # three batches: 100k, 100k, 50k
# Every row's content, order-independent: a table is "exactly as before" when this is unchanged.
DIGEST = "SELECT count(*), md5(string_agg(id || ':' || coalesce(s, '<null>') || ':' || v, '|' ORDER BY id)) FROM {t}"


def step(dialect: str, schema: str | None, mode: str, create: bool = True) -> dict[str, Any]:
    plan = dialects.plan_write(
        dialect,
        {"schema": schema, "table": "t"},
        mode,
        dialects.columns_from_arrow(SCHEMA),
        "id",
        create_if_missing=create,
    )
    return {"id": "w", "write": plan}


class PostgresTarget:
    def __init__(self, schema: str, tmp_path: Path):
        self.schema, self.tmp = schema, tmp_path
        self.table = f'"{schema}".t'
        self.events: list[tuple[str, Any]] = []

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(**PG, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def create(self) -> None:
        self.sql(f"CREATE TABLE {self.table} (id BIGINT PRIMARY KEY, s TEXT, v BIGINT CHECK (v >= 0))")

    def exists(self) -> bool:
        return self.sql(f"SELECT to_regclass('{self.table}') IS NOT NULL")[0][0]

    def write(self, mode: str, reader: Any) -> None:
        ctx = StepContext("w", {}, PG_CONN, self.tmp, self.tmp, event=lambda k, d: self.events.append((k, d)))
        PGWriter(step("postgres", self.schema, mode), ctx).run({"in": reader})


class DuckDBTarget:
    def __init__(self, tmp_path: Path):
        self.path, self.tmp, self.table = tmp_path / "target.duckdb", tmp_path, "main.t"
        self.events: list[tuple[str, Any]] = []

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(sql).fetchall()

    def create(self) -> None:
        self.sql(f"CREATE TABLE {self.table} (id BIGINT PRIMARY KEY, s VARCHAR, v BIGINT CHECK (v >= 0))")

    def exists(self) -> bool:
        return bool(self.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'")[0][0])

    def write(self, mode: str, reader: Any) -> None:
        config = {"path": str(self.path), "table": "t"}
        ctx = StepContext("w", config, None, self.tmp, self.tmp, event=lambda k, d: self.events.append((k, d)))
        DuckDBWriter(step("duckdb", "main", mode), ctx).run({"in": reader})


@pytest.fixture(params=["postgres", "duckdb"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "duckdb":
        return DuckDBTarget(tmp_path)
    return PostgresTarget(request.getfixturevalue("pg_schema"), tmp_path)


# The spoilt last row: a value the table refuses (CHECK v >= 0) or a key already in the input.
SPOILERS = {"bad value": lambda ids: (ids[-1], "bad", -1), "duplicate key": lambda ids: (ids[0], "dup", 2)}
CASES = [
    ("append", "bad value"),
    ("append", "duplicate key"),
    ("truncate", "bad value"),
    ("truncate", "duplicate key"),
    ("replace", "bad value"),
    ("replace", "duplicate key"),
    ("upsert", "bad value"),  # duplicate keys are no error for an upsert: the last one wins (tested below)
]


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "spoiler"), CASES)
def test_failure_in_last_batch_leaves_target_unchanged(target: Any, mode: str, spoiler: str) -> None:
    target.create()
    target.write("append", stream(range(N), v=1))
    before = target.sql(DIGEST.format(t=target.table))
    assert before[0][0] == N
    ids = range(1_000_000, 1_000_000 + N) if mode == "append" else range(N)
    with pytest.raises(StepError):
        target.write(mode, stream(ids, v=2, replace_text="!", last=SPOILERS[spoiler](ids)))
    assert target.sql(DIGEST.format(t=target.table)) == before
    kind, record = target.events[-1]  # the ddl record says what was run, and that it was rolled back
    assert kind == "ddl" and record["statements"][-1] == "ROLLBACK"
    # the same input without the spoilt row goes through: the failure was the last row's alone
    target.write(mode, stream(ids, v=2, replace_text="!"))
    after = target.sql(f"SELECT count(*), min(v), max(v) FROM {target.table}")
    assert after == [(2 * N if mode == "append" else N, 1 if mode == "append" else 2, 2)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["append", "truncate", "replace", "upsert"])
def test_failure_in_last_batch_does_not_create_the_table(target: Any, mode: str) -> None:
    ids = range(N)
    with pytest.raises(StepError):
        target.write(mode, stream(ids, last=(None, "no key", 1)))  # NULL in the primary key
    assert not target.exists()


def test_upsert_keeps_the_last_row_of_a_duplicate_key(target: Any) -> None:
    target.create()
    target.write("append", stream(range(0, 1000), v=1))
    # 150k rows in 3 batches of 50k: keys 0..99_999, then 0..49_999 again (with other text and v) - each key of
    # the second half appears twice, in different batches, and keys 0..999 also exist in the table already.
    ids = [*range(100_000), *range(50_000)]

    def rows() -> pa.RecordBatchReader:
        s = [f"{text(i)} #{n}" if text(i) is not None else None for n, i in enumerate(ids)]
        v = [n for n, _ in enumerate(ids)]
        table = pa.table([pa.array(ids, pa.int64()), pa.array(s), pa.array(v, pa.int64())], schema=SCHEMA)
        return pa.RecordBatchReader.from_batches(SCHEMA, table.to_batches(max_chunksize=50_000))

    target.write("upsert", rows())
    got = dict(((i, (s, v)) for i, s, v in target.sql(f"SELECT id, s, v FROM {target.table}")))
    assert len(got) == 100_000
    last = {i: n for n, i in enumerate(ids)}  # the position of each key's last occurrence
    assert got == {i: (f"{text(i)} #{n}" if text(i) is not None else None, n) for i, n in last.items()}


def test_mysql_upsert_keeps_the_last_row_of_a_duplicate_key(mysql_db: str, tmp_path: Path) -> None:
    """MariaDB's ON DUPLICATE KEY UPDATE applies the staged rows in load order: the last one wins there too."""
    conn = pymysql.connect(**MY, database=mysql_db, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, s LONGTEXT, v BIGINT)")
    conn.close()
    ids = [*range(30_000), *range(10_000)]
    texts = [f"{text(i)} #{n}" for n, i in enumerate(ids)]
    table = pa.table([pa.array(ids, pa.int64()), pa.array(texts), pa.array(range(len(ids)))], schema=SCHEMA)
    plan = dialects.plan_write(
        "mysql", {"schema": mysql_db, "table": "t"}, "upsert", dialects.columns_from_arrow(SCHEMA), "id"
    )
    connection = {**MY, "database": mysql_db}
    ctx = StepContext("w", {}, connection, tmp_path, tmp_path)
    reader = pa.RecordBatchReader.from_batches(SCHEMA, table.to_batches(max_chunksize=8_000))
    MySQLWriter({"id": "w", "write": plan}, ctx).run({"in": reader})
    conn = pymysql.connect(**MY, database=mysql_db)
    with conn.cursor() as cur:
        cur.execute("SELECT id, s, v FROM t")
        got = {i: (s, v) for i, s, v in cur.fetchall()}
    conn.close()
    last = {i: n for n, i in enumerate(ids)}
    assert got == {i: (f"{text(i)} #{n}", n) for i, n in last.items()}
