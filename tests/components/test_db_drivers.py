"""The MySQL/PostgreSQL/Supabase drivers against the real servers: exact data, atomic writes, no secrets."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pymysql
import pytest

from osiris import dialects
from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_extractor.driver import Driver as PGExtractor
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.components.supabase_writer.driver import Driver as SupabaseWriter
from osiris.runtime.connectors import mysql as mysql_conn
from osiris.runtime.connectors import mysqlcli
from osiris.runtime.driver import StepContext, StepError

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}

pytestmark = pytest.mark.db

PG_CONN = {"host": PG["host"], "port": PG["port"], "user": PG["user"], "database": PG["dbname"], "password": ""}
MYSQL_DDL = """CREATE TABLE src (
  id BIGINT UNSIGNED PRIMARY KEY, s TEXT, b BLOB, d DECIMAL(38,10), dt DATETIME(6), ts TIMESTAMP(6) NULL,
  dd DATE, tm TIME(6), i BIGINT, n INT, f DOUBLE)"""
ROWS: list[tuple[Any, ...]] = [
    (18446744073709551615, "a\tb\nc\\d NULL", b"\x00\xff\t\n", Decimal("-1234567890123456789012345678.0123456789"),
     dt.datetime(2024, 2, 29, 12, 34, 56, 123456), dt.datetime(2024, 1, 1, 0, 0, 0, 500000), dt.date(1999, 12, 31),
     dt.time(23, 59, 59, 999999), -9223372036854775808, -2147483648, 0.1),
    (0, "", b"", Decimal("0.0000000001"), dt.datetime(1000, 1, 1), dt.datetime(1970, 1, 2), dt.date(1000, 1, 1),
     dt.time(0), 9223372036854775807, 2147483647, -1e300),
    (1, "NULL", None, None, None, None, None, None, None, None, None),
    (2, None, None, Decimal("9999999999999999999999999999.9999999999"), None, None, None, None, None, None, None),
    (3, "😀 \\N \r", None, Decimal("12.5"), None, None, None, None, 5, 5, None),
]  # fmt: skip
COLUMNS = ["id", "s", "b", "d", "dt", "ts", "dd", "tm", "i", "n", "f"]
PATHS = [
    "pymysql",
    *(["mysqlclient"] if mysql_conn.fast_path_available() else []),
    *(["cli"] if mysqlcli.client_binary() else []),
]


def ctx(config: dict[str, Any], connection: dict[str, Any] | None, tmp_path: Path, **kw: Any) -> StepContext:
    return StepContext("step", config, connection, tmp_path, tmp_path, **kw)


def my_connection(db: str) -> dict[str, Any]:
    return {"host": MY["host"], "port": MY["port"], "user": MY["user"], "password": MY["password"], "database": db}


def write_step(
    dialect: str, schema: str | None, table: str, mode: str, schema_arrow: pa.Schema, pk: Any = None
) -> dict[str, Any]:
    plan = dialects.plan_write(
        dialect, {"schema": schema, "table": table}, mode, dialects.columns_from_arrow(schema_arrow), pk
    )
    return {"id": "step", "write": plan}


@pytest.fixture
def src_db(mysql_db: str) -> str:
    conn = pymysql.connect(**{**MY, "database": mysql_db}, autocommit=True, init_command="SET time_zone='+00:00'")
    with conn.cursor() as cur:
        cur.execute(MYSQL_DDL)
        cur.executemany(f"INSERT INTO src VALUES ({', '.join(['%s'] * len(COLUMNS))})", ROWS)
    conn.close()
    return mysql_db


def pg_rows(sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("path", PATHS)
def test_mysql_extract_exact_types_and_values(src_db: str, tmp_path: Path, path: str) -> None:
    driver = MySQLExtractor({}, ctx({"table": "src", "batch_size": 2}, my_connection(src_db), tmp_path))
    driver.path = path
    table = driver.run({}).read_all().sort_by("id")
    assert [str(t) for t in table.schema.types] == [
        "uint64", "string", "binary", "decimal128(38, 10)", "timestamp[us]", "timestamp[us, tz=UTC]",
        "date32[day]", "time64[us]", "int64", "int32", "double"]  # fmt: skip
    got = [tuple(r.values()) for r in table.to_pylist()]
    want = sorted(ROWS, key=lambda r: r[0])
    for g, w in zip(got, want, strict=True):
        ts = g[5].replace(tzinfo=None) if g[5] is not None else None
        assert (*g[:5], ts, *g[6:]) == w


def test_mysql_extract_empty_and_zero_dates(mysql_db: str, tmp_path: Path) -> None:
    conn = pymysql.connect(**{**MY, "database": mysql_db}, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE z (d DATE, x DECIMAL(5,2) UNSIGNED)")
        cur.execute("INSERT INTO z VALUES ('0000-00-00', 1.25)")
        cur.execute("CREATE TABLE e (a INT)")
    events: list[Any] = []
    c = ctx({"query": "SELECT * FROM z"}, my_connection(mysql_db), tmp_path, event=lambda k, d: events.append(d))
    table = MySQLExtractor({}, c).run({}).read_all()
    assert table.to_pylist() == [{"d": None, "x": Decimal("1.25")}]
    assert table.schema.field("x").type == pa.decimal128(5, 2)
    assert any("zero date" in e.get("message", "") for e in events)
    empty = MySQLExtractor({}, ctx({"table": "e"}, my_connection(mysql_db), tmp_path)).run({}).read_all()
    assert empty.num_rows == 0 and empty.schema.field("a").type == pa.int32()


def mysql_to_pg(src_db: str, schema: str, tmp_path: Path, mode: str, pk: Any = None, table: str = "dst") -> None:
    reader = MySQLExtractor({}, ctx({"table": "src"}, my_connection(src_db), tmp_path)).run({})
    step = write_step("postgres", schema, table, mode, reader.schema, pk)
    PGWriter(step, ctx({}, PG_CONN, tmp_path)).run({"input_df": reader})


def test_mysql_to_postgres_exact(src_db: str, pg_schema: str, tmp_path: Path) -> None:
    mysql_to_pg(src_db, pg_schema, tmp_path, "append")
    got = pg_rows(f'SELECT {", ".join(COLUMNS)} FROM "{pg_schema}".dst ORDER BY id')
    want = sorted(ROWS, key=lambda r: r[0])
    for raw, w in zip(got, want, strict=True):
        g = tuple(bytes(v) if isinstance(v, memoryview) else v for v in raw)
        ts = g[5].replace(tzinfo=None) if g[5] is not None else None
        assert (*g[:5], ts, *g[6:]) == w
    assert pg_rows(f'SELECT count(*) FROM "{pg_schema}".dst WHERE s IS NULL') == [(1,)]
    assert pg_rows(f"SELECT count(*) FROM \"{pg_schema}\".dst WHERE s = ''") == [(1,)]


def test_replace_keeps_primary_key_and_upsert_composite(pg_schema: str, tmp_path: Path) -> None:
    schema = pa.schema(
        [pa.field("a", pa.int32(), nullable=False), pa.field("b", pa.string(), nullable=False), ("v", pa.string())]
    )
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".r (a INTEGER PRIMARY KEY, b TEXT NOT NULL, v TEXT)')
        conn.execute(f"INSERT INTO \"{pg_schema}\".r VALUES (9, 'old', 'old')")
    batch = pa.record_batch([pa.array([1, 2], pa.int32()), pa.array(["x", "y"]), pa.array(["p", None])], schema=schema)
    step = write_step("postgres", pg_schema, "r", "replace", schema, "a")
    PGWriter(step, ctx({}, PG_CONN, tmp_path)).run({"in": pa.RecordBatchReader.from_batches(schema, [batch])})
    assert pg_rows(f'SELECT a, b, v FROM "{pg_schema}".r ORDER BY a') == [(1, "x", "p"), (2, "y", None)]
    pk = pg_rows(f"SELECT conname FROM pg_constraint WHERE conrelid = '\"{pg_schema}\".r'::regclass AND contype = 'p'")
    assert len(pk) == 1

    step = write_step("postgres", pg_schema, "u", "upsert", schema, ["a", "b"])
    for values in (([1, 1, 2], ["x", "y", "x"], ["1", "2", "3"]), ([1, 3], ["y", "z"], ["new", None])):
        b = pa.record_batch([pa.array(values[0], pa.int32()), pa.array(values[1]), pa.array(values[2])], schema=schema)
        SupabaseWriter(step, ctx({}, PG_CONN, tmp_path)).run({"in": pa.RecordBatchReader.from_batches(schema, [b])})
    assert pg_rows(f'SELECT a, b, v FROM "{pg_schema}".u ORDER BY a, b') == [
        (1, "x", "1"), (1, "y", "new"), (2, "x", "3"), (3, "z", None)]  # fmt: skip


def _big(schema: pa.Schema, batches: int, hook: Any = None) -> pa.RecordBatchReader:
    def gen() -> Any:
        for i in range(batches):
            if hook:
                hook(i)
            ids = pa.array(range(i * 10_000, (i + 1) * 10_000), pa.int64())
            yield pa.record_batch([ids, pa.array(["row"] * 10_000)], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, gen())


def test_killed_session_leaves_target_unchanged_and_rerun_succeeds(pg_schema: str, tmp_path: Path) -> None:
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), ("s", pa.string())])
    step = write_step("postgres", pg_schema, "k", "replace", schema, "id")
    PGWriter(step, ctx({}, PG_CONN, tmp_path)).run({"in": _big(schema, 1)})
    app = f"osiris-kill-{uuid.uuid4().hex[:8]}"

    def kill(i: int) -> None:
        if i == 5:
            with psycopg.connect(**PG, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
                )
            time.sleep(0.2)

    conn_fields = {**PG_CONN, "application_name": app}
    c = ctx({}, conn_fields, tmp_path)
    with pytest.raises(StepError) as err:
        PGWriter(step, c).run({"in": _big(schema, 20, kill)})
    assert '"k"' in str(err.value)
    assert pg_rows(f'SELECT count(*), min(id), max(id) FROM "{pg_schema}".k') == [(10_000, 0, 9_999)]
    PGWriter(step, c).run({"in": _big(schema, 20)})
    assert pg_rows(f'SELECT count(*), count(DISTINCT id) FROM "{pg_schema}".k') == [(200_000, 200_000)]


def test_bad_value_rolls_back(pg_schema: str, tmp_path: Path) -> None:
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), ("s", pa.string())])
    step = write_step("postgres", pg_schema, "bad", "append", schema, "id")
    PGWriter(step, ctx({}, PG_CONN, tmp_path)).run({"in": _big(schema, 1)})
    dup = pa.RecordBatchReader.from_batches(
        schema, [pa.record_batch([pa.array([10_001, 5]), pa.array(["a", "b"])], schema=schema)]
    )
    with pytest.raises(StepError, match="bad"):
        PGWriter(step, ctx({}, PG_CONN, tmp_path)).run({"in": dup})
    assert pg_rows(f'SELECT count(*) FROM "{pg_schema}".bad') == [(10_000,)]


def test_postgres_extract_exact(pg_schema: str, tmp_path: Path) -> None:
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{pg_schema}".p '
            "(n NUMERIC(38,10), t TIMESTAMPTZ, j JSONB, u UUID, s TEXT, b BYTEA, x NUMERIC)"
        )
        conn.execute(
            f"INSERT INTO \"{pg_schema}\".p VALUES ('-1234567890123456789012345678.0123456789',"
            " '2024-01-01 01:02:03.456789+02', '{\"a\": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
            " '', '\\x00ff', 1.5),"
            " (NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        )
    c = ctx({"table": f"{pg_schema}.p", "batch_size": 1}, PG_CONN, tmp_path)
    table = PGExtractor({}, c).run({}).read_all()
    assert table.schema.field("n").type == pa.decimal128(38, 10)
    assert table.schema.field("t").type == pa.timestamp("us", tz="UTC")
    first = table.to_pylist()[0]
    assert first["n"] == Decimal("-1234567890123456789012345678.0123456789")
    assert first["t"] == dt.datetime(2023, 12, 31, 23, 2, 3, 456789, tzinfo=dt.UTC)
    assert (first["j"], first["u"], first["s"], first["b"], first["x"]) == (
        '{"a": 1}', "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "", b"\x00\xff", "1.5")  # fmt: skip
    assert set(table.to_pylist()[1].values()) == {None}


def test_mysql_writer_upsert_and_exact(src_db: str, tmp_path: Path) -> None:
    reader = MySQLExtractor({}, ctx({"table": "src"}, my_connection(src_db), tmp_path)).run({})
    cols = dialects.columns_from_arrow(reader.schema)
    plan = dialects.plan_write("mysql", {"schema": src_db, "table": "copy"}, "upsert", cols, ["id"])
    MySQLWriter({"write": plan}, ctx({}, my_connection(src_db), tmp_path)).run({"in": reader})
    conn = pymysql.connect(**{**MY, "database": src_db}, init_command="SET time_zone='+00:00'")
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM copy ORDER BY id")
        got = cur.fetchall()
    conn.close()
    want = sorted(ROWS, key=lambda r: r[0])
    for g, w in zip(got, want, strict=True):
        assert g[:5] == w[:5] and g[6] == w[6] and g[8:] == w[8:]


def test_no_secret_in_errors(pg_schema: str, mysql_db: str, tmp_path: Path) -> None:
    secret = f"S3cret-{uuid.uuid4().hex}"
    user = f"osiris_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{secret}'")
    my = pymysql.connect(**MY, autocommit=True)
    with my.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'")
    try:
        schema = pa.schema([("id", pa.int64())])
        step = write_step("postgres", "no_such_schema_x", "t", "append", schema)
        messages = []
        pg_bad = {**PG_CONN, "user": user, "password": secret}
        for conn_fields in (pg_bad, {"pg_dsn": f"postgresql://{user}:{secret}@127.0.0.1:5432/test"}):
            with pytest.raises(StepError) as err:
                PGWriter(step, ctx({}, conn_fields, tmp_path)).run({"in": _big(pa.schema([("id", pa.int64())]), 0)})
            messages.append(str(err.value))
        with pytest.raises(StepError) as err:
            c = ctx(
                {"query": "SELECT * FROM nowhere"},
                {**my_connection(mysql_db), "user": user, "password": secret},
                tmp_path,
            )
            MySQLExtractor({}, c).run({})
        messages.append(str(err.value))
        with pytest.raises(StepError) as err:
            bad_pw = {**my_connection(mysql_db), "user": user, "password": secret + "x"}
            MySQLExtractor({}, ctx({"query": "SELECT 1"}, bad_pw, tmp_path)).run({})
        messages.append(str(err.value))
        for m in messages:
            assert secret not in m, m
        assert any("no_such_schema_x" in m for m in messages[:2])
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {user}")
        with my.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
        my.close()


def test_threads_do_not_leak_when_reader_abandoned(src_db: str, tmp_path: Path) -> None:
    before = threading.active_count()
    reader = MySQLExtractor({}, ctx({"table": "src", "batch_size": 1}, my_connection(src_db), tmp_path)).run({})
    next(iter(reader))
    del reader
    gc.collect()
    time.sleep(0.3)
    assert threading.active_count() <= before
