"""Config fields proved honoured through `osirisc run` or the real drivers (tests/test_spec_fields.py lists which test
proves which field). Each test changes a field and shows the result changes as the field says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pymysql
import pytest
import yaml

from osiris import dialects
from osiris.cli import main
from osiris.components.duckdb_extractor.driver import Driver as DuckExtractor
from osiris.components.filesystem_csv_extractor.driver import Driver as CsvExtractor
from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_extractor.driver import Driver as PGExtractor
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.components.supabase_extractor.driver import Driver as SupabaseExtractor
from osiris.runtime.connectors import postgres
from osiris.runtime.driver import StepContext, StepError

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
PG_FIELDS = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres", "password": ""}
MY_FIELDS = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
IN_CSV = "id,name\n1,a\n2,b\n3,c\n"
IN2_CSV = 'id,name,extra\n3,"C, changed",x\n4,"line\nbreak",y\n'
IN3_CSV = "id,name,extra\n5,e,\n6,f,z\n"


def _run(tmp: Path, steps: list[dict[str, Any]], connections: dict[str, Any] | None = None) -> tuple[int, Any]:
    if connections is not None:
        (tmp / "osiris_connections.yaml").write_text(yaml.safe_dump({"connections": connections}))
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "fields", "steps": steps}, sort_keys=False))
    rc = main(["run", str(path), "--runs-dir", str(tmp / "runs")])
    newest = max((tmp / "runs").rglob("status.json"), key=lambda p: p.stat().st_mtime_ns, default=None)
    return rc, json.loads(newest.read_text()) if newest else None


def _csv_to(tmp: Path, csv_name: str, component: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    read = {"id": "src", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": csv_name}}
    write = {"id": "out", "component": component, "mode": "write", "needs": ["src"], "config": config}
    return [read, write]


# --------------------------------------------------------------------------------------- writers end to end
def _target(request: pytest.FixtureRequest, component: str, tmp: Path) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(connections file content, writer config base, rows(table) -> sorted rows) for a fresh target."""
    family = component.split(".", maxsplit=1)[0]
    if family in ("postgres", "supabase"):
        schema = request.getfixturevalue("pg_schema")

        def rows(table: str) -> list[tuple[Any, ...]] | None:
            with psycopg.connect(**PG) as conn:
                if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone() == (None,):
                    return None
                return [tuple(r) for r in conn.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1').fetchall()]

        return {family: {"default": PG_FIELDS}}, {"connection": f"@{family}.default", "schema": schema}, rows
    if family == "mysql":
        db = request.getfixturevalue("mysql_db")

        def rows(table: str) -> list[tuple[Any, ...]] | None:
            conn = pymysql.connect(**MY_FIELDS, database=db)
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema=%s AND table_name=%s",
                    (db, table),
                )
                if cur.fetchone() == (0,):
                    return None
                cur.execute(f"SELECT * FROM `{table}` ORDER BY 1")
                return [tuple(r) for r in cur.fetchall()]

        conns = {"mysql": {"default": {**MY_FIELDS, "database": "test"}}}
        return conns, {"connection": "@mysql.default", "schema": db}, rows

    def duck_rows(table: str) -> list[tuple[Any, ...]] | None:
        with duckdb.connect(str(tmp / "db" / "w.duckdb"), read_only=True) as con:
            found = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 's' AND table_name = ?", [table]
            )
            if not found.fetchone()[0]:
                return None
            return [tuple(r) for r in con.execute(f'SELECT * FROM s."{table}" ORDER BY 1').fetchall()]

    (tmp / "db").mkdir()
    with duckdb.connect(str(tmp / "db" / "w.duckdb")) as con:
        con.execute("CREATE SCHEMA s")  # the writer creates tables, not schemas
    return {"duckdb": {"default": {"path": "db/w.duckdb"}}}, {"connection": "@duckdb.default", "schema": "s"}, duck_rows


@pytest.mark.db
@pytest.mark.parametrize("component", ["postgres.writer", "supabase.writer", "mysql.writer", "duckdb.writer"])
def test_writer_fields_end_to_end(
    component: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connection, schema, table, write_mode, primary_key, create_if_missing and schema_evolution each change the
    target as they say (osirisc run: compile, plan, write)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text(IN_CSV)
    (tmp_path / "in2.csv").write_text(IN2_CSV)
    (tmp_path / "in3.csv").write_text(IN3_CSV)
    conns, base, rows = _target(request, component, tmp_path)
    upsert = {**base, "table": "people", "write_mode": "upsert", "primary_key": ["id"], "create_if_missing": True}

    assert _run(tmp_path, _csv_to(tmp_path, "in.csv", component, upsert), conns)[0] == 0
    assert rows("people") == [(1, "a"), (2, "b"), (3, "c")]
    # the new column `extra`: refused with schema_evolution fail (target untouched), added with add_columns
    rc, status = _run(tmp_path, _csv_to(tmp_path, "in2.csv", component, {**upsert, "schema_evolution": "fail"}))
    assert rc == 1 and "extra" in status["error"] and rows("people") == [(1, "a"), (2, "b"), (3, "c")]
    evolve = {**upsert, "schema_evolution": "add_columns"}
    assert _run(tmp_path, _csv_to(tmp_path, "in2.csv", component, evolve))[0] == 0
    assert rows("people") == [(1, "a", None), (2, "b", None), (3, "C, changed", "x"), (4, "line\nbreak", "y")]
    replace = {**upsert, "write_mode": "replace"}
    assert _run(tmp_path, _csv_to(tmp_path, "in.csv", component, replace))[0] == 0
    assert rows("people") == [(1, "a", None), (2, "b", None), (3, "c", None)]
    append = {**base, "table": "people", "write_mode": "append"}
    assert _run(tmp_path, _csv_to(tmp_path, "in3.csv", component, append))[0] == 0
    assert [r[0] for r in rows("people") or []] == [1, 2, 3, 5, 6]
    missing = {**base, "table": "nowhere", "write_mode": "append", "create_if_missing": False}
    rc, status = _run(tmp_path, _csv_to(tmp_path, "in.csv", component, missing))
    assert rc == 1 and "nowhere" in status["error"] and rows("nowhere") is None


def test_csv_writer_fields_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """connection (base_dir), path, delimiter, header, quoting, columns and create_dirs of filesystem.csv_writer."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text(IN_CSV)
    conns = {"filesystem": {"default": {"base_dir": "out"}}}
    config = {"connection": "@filesystem.default", "path": "sub/x.csv", "delimiter": ";", "header": False,
              "quoting": "all", "columns": ["name", "id"], "create_dirs": True}  # fmt: skip
    assert _run(tmp_path, _csv_to(tmp_path, "in.csv", "filesystem.csv_writer", config), conns)[0] == 0
    assert (tmp_path / "out" / "sub" / "x.csv").read_text() == '"a";"1"\n"b";"2"\n"c";"3"\n'
    rc, status = _run(tmp_path, _csv_to(tmp_path, "in.csv", "filesystem.csv_writer", {**config, "path": "new/x.csv",
                                                                                    "create_dirs": False}))  # fmt: skip
    assert rc == 1 and "create_dirs" in status["error"] and not (tmp_path / "out" / "new").exists()


# --------------------------------------------------------------------------------------- database connections
def _pg_read(component: str, fields: dict[str, Any], tmp: Path) -> pa.Table:
    driver = PGExtractor if component == "postgres.extractor" else SupabaseExtractor
    config = {"query": "SELECT current_database() AS db, current_user AS u", "retries": 0, **fields}
    return driver({}, StepContext("s", config, None, tmp, tmp)).run({}).read_all()


@pytest.mark.db
@pytest.mark.parametrize("component", ["postgres.extractor", "supabase.extractor"])
def test_postgres_connection_fields_reach_libpq(component: str, tmp_path: Path) -> None:
    """host, port, database, user, password, sslmode and pg_dsn each decide where (and whether) the step connects."""
    assert _pg_read(component, PG_FIELDS, tmp_path).to_pylist() == [{"db": "test", "u": "postgres"}]
    dsn = {"pg_dsn": "host=127.0.0.1 port=5432 dbname=test user=postgres"}
    assert _pg_read(component, dsn, tmp_path).to_pylist() == [{"db": "test", "u": "postgres"}]
    wrong = {"host": "127.0.0.2", "port": 1, "database": "no_such_db_x", "user": "no_such_user_x", "sslmode": "require"}
    for key, value in wrong.items():
        with pytest.raises(StepError) as info:
            _pg_read(component, {**PG_FIELDS, key: value}, tmp_path)
        assert str(value) in str(info.value) or (key == "sslmode" and "SSL" in str(info.value))
    assert postgres.params({**PG_FIELDS, "password": "pw-x"}, None)["password"] == "pw-x"  # trusted; libpq gets it


@pytest.mark.db
@pytest.mark.parametrize("component", ["postgres.writer", "supabase.writer"])
def test_postgres_writer_connection_fields(component: str, pg_schema: str, tmp_path: Path) -> None:
    """host, port, database, user, sslmode and pg_dsn decide where (and whether) a Postgres-route writer writes."""
    schema = pa.schema([("id", pa.int64())])
    plan = dialects.plan_write("postgres", {"schema": pg_schema, "table": "t"}, "append",
                               dialects.columns_from_arrow(schema), None, create_if_missing=True)  # fmt: skip
    wrong = {"host": "127.0.0.2", "port": 1, "database": "no_such_db_x", "user": "no_such_user_x", "sslmode": "require"}
    dsn = {"pg_dsn": "host=127.0.0.1 port=5432 dbname=test user=postgres"}
    cases = [(PG_FIELDS, True), (dsn, True), *(({**PG_FIELDS, k: v}, False) for k, v in wrong.items())]
    for fields, ok in cases:
        reader = pa.RecordBatchReader.from_batches(schema, [pa.record_batch([pa.array([1])], schema=schema)])
        ctx = StepContext("w", {**fields, "retries": 0}, None, tmp_path, tmp_path)
        writer = PGWriter({"write": plan, "component": component}, ctx)
        if ok:
            writer.run({"in": reader})
        else:
            with pytest.raises(StepError):
                writer.run({"in": reader})
    with psycopg.connect(**PG) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{pg_schema}".t').fetchone() == (2,)


@pytest.mark.db
def test_mysql_connection_fields(mysql_db: str, tmp_path: Path) -> None:
    """host, port, database, user and password of the MySQL components decide where (and whether) they connect."""

    def read(**over: Any) -> pa.Table:
        config = {"query": "SELECT DATABASE() AS db"}
        conn = {**MY_FIELDS, "database": mysql_db, **over}
        return MySQLExtractor({}, StepContext("s", config, conn, tmp_path, tmp_path)).run({}).read_all()

    schema = pa.schema([("id", pa.int64())])
    plan = dialects.plan_write("mysql", {"schema": None, "table": "t"}, "append",
                               dialects.columns_from_arrow(schema), None, create_if_missing=True)  # fmt: skip

    def write(**over: Any) -> None:
        reader = pa.RecordBatchReader.from_batches(schema, [pa.record_batch([pa.array([1])], schema=schema)])
        ctx = StepContext("w", {}, {**MY_FIELDS, "database": mysql_db, **over}, tmp_path, tmp_path)
        MySQLWriter({"write": plan}, ctx).run({"in": reader})

    assert read().to_pylist() == [{"db": mysql_db}]
    write()
    for key, value in {"host": "127.0.0.2", "port": 1, "database": "no_such_db_x", "user": "no_such_user_x",
                       "password": "wrong-password"}.items():  # fmt: skip
        with pytest.raises(StepError):
            read(**{key: value})
        with pytest.raises(StepError):
            write(**{key: value})
    conn = pymysql.connect(**MY_FIELDS, database=mysql_db)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone() == (1,)
    conn.close()


# --------------------------------------------------------------------------------------- extractor table options
@pytest.mark.db
def test_mysql_extractor_table_options(mysql_db: str, tmp_path: Path) -> None:
    """schema, table, columns, limit, offset and batch_size of mysql.extractor (connected to another database)."""
    conn = pymysql.connect(**MY_FIELDS, database=mysql_db, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b TEXT)")
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s)", [(i, f"a{i}", f"b{i}") for i in range(2500)])
    conn.close()

    def read(**config: Any) -> pa.Table:
        ctx = StepContext("s", {"schema": mysql_db, "table": "t", **config}, {**MY_FIELDS, "database": "test"},
                          tmp_path, tmp_path)  # fmt: skip
        driver = MySQLExtractor({}, ctx)
        driver.path = "pymysql"  # the row path; the client fast path sizes its batches in bytes
        return driver.run({}).read_all()

    whole = read(batch_size=1000)
    assert whole.num_rows == 2500 and whole.column_names == ["id", "a", "b"]
    assert [len(b) for b in whole.to_batches()] == [1000, 1000, 500]
    part = read(columns=["b", "id"], limit=3, offset=10)
    assert part.column_names == ["b", "id"] and part.num_rows == 3


@pytest.mark.db
@pytest.mark.parametrize("component", ["postgres.extractor", "supabase.extractor"])
def test_postgres_extractor_table_options(component: str, pg_schema: str, tmp_path: Path) -> None:
    """schema, table, columns, query and batch_size of the Postgres-route extractors."""
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".t (id INT PRIMARY KEY, a TEXT, b TEXT)')
        conn.execute(f"INSERT INTO \"{pg_schema}\".t SELECT i, 'a' || i, 'b' || i FROM generate_series(0, 2499) i")
    driver = PGExtractor if component == "postgres.extractor" else SupabaseExtractor

    def read(**config: Any) -> pa.Table:
        return driver({}, StepContext("s", config, PG_FIELDS, tmp_path, tmp_path)).run({}).read_all()

    whole = read(schema=pg_schema, table="t", batch_size=1000)
    assert whole.num_rows == 2500 and [len(b) for b in whole.to_batches()] == [1000, 1000, 500]
    assert read(schema=pg_schema, table="t", columns=["b", "id"]).column_names == ["b", "id"]
    assert read(query=f'SELECT count(*) AS n FROM "{pg_schema}".t').to_pylist() == [{"n": 2500}]


def test_duckdb_extractor_connection_schema_and_batch_size(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    with duckdb.connect(str(tmp_path / "db" / "x.duckdb")) as con:
        con.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT range AS id FROM range(2500)")
        con.execute("CREATE TABLE main.t AS SELECT 1 AS other")
    ctx = StepContext("e", {"schema": "s", "table": "t", "batch_size": 1000}, {"path": "db/x.duckdb"}, tmp_path,
                      tmp_path)  # fmt: skip
    table = DuckExtractor({}, ctx).run({}).read_all()
    assert table.column_names == ["id"] and table.num_rows == 2500
    assert max(len(b) for b in table.to_batches()) <= 1000 and len(table.to_batches()) >= 3


def test_csv_extractor_types_dates_batches_and_connection(tmp_path: Path) -> None:
    """dtype, parse_dates, batch_size / chunk_size, skip_blank_lines and the filesystem connection's base_dir."""
    (tmp_path / "data").mkdir()
    lines = "".join(f"{i},2024-01-{1 + i % 28:02d} 10:00:00,{i}\n\n" for i in range(2500))
    (tmp_path / "data" / "in.csv").write_text("id,ts,code\n" + lines)

    def read(**config: Any) -> pa.Table:
        cfg = {"path": "in.csv", **config}
        ctx = StepContext("c", cfg, {"base_dir": "data"}, tmp_path, tmp_path)
        return CsvExtractor({"config": cfg}, ctx).run({}).read_all()

    typed = read(dtype={"code": "string"}, parse_dates=["ts"], batch_size=1000)
    assert typed.schema.field("code").type == pa.string() and typed.schema.field("ts").type == pa.timestamp("us")
    assert typed.num_rows == 2500 and max(len(b) for b in typed.to_batches()) <= 1000
    assert max(len(b) for b in read(chunk_size=700).to_batches()) <= 700
    assert read().schema.field("code").type == pa.int64()
    assert read(skip_blank_lines=False).num_rows == 5000  # the blank lines become rows of nulls
    (tmp_path / "data" / "q.csv").write_text('a,b\n"x,y",z\n')
    assert read(path="q.csv").to_pylist() == [{"a": "x,y", "b": "z"}]
    unquoted = read(path="q.csv", quoting="none", header=False, skip_rows=1).to_pylist()
    assert [list(r.values()) for r in unquoted] == [['"x', 'y"', "z"]]  # quotes are plain characters


@pytest.mark.db
def test_supabase_writer_timeout_and_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """retries is the number of connect retries (a refused connect is retried, nothing is ever re-sent after
    it connected); timeout is libpq's connect_timeout."""
    import socket

    from osiris.components.supabase_writer.driver import Driver as SupabaseWriter

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls: list[int] = []
    real = psycopg.connect

    def counting(*args: Any, **kw: Any) -> Any:
        calls.append(kw.get("connect_timeout", 0))
        return real(*args, **kw)

    monkeypatch.setattr(psycopg, "connect", counting)
    schema = pa.schema([("id", pa.int64())])
    plan = dialects.plan_write("postgres", {"schema": None, "table": "t"}, "append",
                               dialects.columns_from_arrow(schema), None, create_if_missing=True)  # fmt: skip
    for retries in (0, 2):
        calls.clear()
        ctx = StepContext("w", {**PG_FIELDS, "port": port, "retries": retries, "timeout": 6}, None, tmp_path, tmp_path)
        reader = pa.RecordBatchReader.from_batches(schema, [pa.record_batch([pa.array([1])], schema=schema)])
        with pytest.raises(StepError, match="connect to"):
            SupabaseWriter({"write": plan, "component": "supabase.writer"}, ctx).run({"in": reader})
        assert [int(c) for c in calls] == [6] * (retries + 1)  # libpq keywords are text


@pytest.mark.db
def test_supabase_extractor_end_to_end_through_a_connection(
    pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connection (@supabase alias), select, filter and order compiled and run by osirisc."""
    monkeypatch.chdir(tmp_path)
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".users (id INT, email TEXT, status TEXT)')
        conn.execute(
            f"INSERT INTO \"{pg_schema}\".users VALUES (1, 'a@x', 'active'), (2, 'b@x', 'gone'), (3, 'c@x', 'active')"
        )
    steps = [
        {"id": "users", "component": "supabase.extractor", "mode": "read",
         "config": {"connection": "@supabase.main", "schema": pg_schema, "table": "users", "select": "email,id",
                    "filter": {"status": "eq.active"}, "order": "id.desc"}},
        {"id": "out", "component": "filesystem.csv_writer", "mode": "write", "config": {"path": "out.csv"}},
    ]  # fmt: skip
    rc, status = _run(tmp_path, steps, {"supabase": {"main": PG_FIELDS}})
    assert rc == 0, status
    assert (tmp_path / "out.csv").read_text() == '"email","id"\n"c@x",3\n"a@x",1\n'


@pytest.mark.db
def test_supabase_writer_lock_timeout(pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lock_timeout: a target another session holds makes the run fail after that many seconds, target untouched."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text(IN_CSV)
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".people (id BIGINT PRIMARY KEY, name TEXT)')
    config = {"connection": "@supabase.default", "schema": pg_schema, "table": "people", "write_mode": "append",
              "lock_timeout": 2}  # fmt: skip
    holder = psycopg.connect(**PG)
    holder.execute(f'LOCK TABLE "{pg_schema}".people IN ACCESS EXCLUSIVE MODE')
    try:
        rc, status = _run(
            tmp_path, _csv_to(tmp_path, "in.csv", "supabase.writer", config), {"supabase": {"default": PG_FIELDS}}
        )
    finally:
        holder.rollback()
        holder.close()
    assert rc == 1 and "waited 2 s for its lock" in status["error"]
    assert 2_000 <= status["steps"]["out"]["duration_ms"] < 60_000
    with psycopg.connect(**PG) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{pg_schema}".people').fetchone() == (0,)
