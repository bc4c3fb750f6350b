"""The schema lock is trusted only while it describes the step's current source (OSR-E211 at check), and a source
that changed since `osirisc introspect` fails the run before any row reaches a writer (OSR-E206 at run time)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from osiris.cli import main
from osiris.compile import compile_file
from osiris.dialects.lock import check_drift, dumps, lock_path, source_select

PG_CONNECTIONS = (
    "connections:\n  postgres:\n    default:\n      host: 127.0.0.1\n      port: 5432\n      database: test\n"
    "      user: postgres\n      password: ''\n"
)
MY_CONNECTIONS = (
    "connections:\n  mysql:\n    default:\n      host: 127.0.0.1\n      port: 3306\n      database: {db}\n"
    "      user: root\n      password: ''\n"
)


def _pipeline(tmp: Path, component: str, family: str, source: str) -> Path:
    path = tmp / "p.yaml"
    path.write_text(
        'oml_version: "0.1.0"\nname: drift\nsteps:\n'
        f'  - id: src\n    component: {component}\n    mode: read\n    config:\n      connection: "@{family}.default"\n'
        f"{source}"
        "  - id: total\n    component: duckdb.processor\n    mode: transform\n    config:\n"
        "      query: SELECT count(*) AS n, sum(amount) AS amount FROM input_df\n"
        "  - id: out\n    component: duckdb.writer\n    mode: write\n    needs: [src]\n    config:\n"
        "      path: out.duckdb\n      table: copy\n      write_mode: append\n      create_if_missing: true\n"
    )
    return path


def _lock(path: Path, source: str, component: str = "postgres.extractor") -> None:
    columns = [{"name": "id", "type": "int64", "nullable": False}, {"name": "amount", "type": "decimal(10,2)"}]
    lock_path(path).write_text(dumps({"src": {"component": component, "source": source, "columns": columns}}))


# --------------------------------------------------------------------------------------------- stale lock at check
def test_stale_lock_query_is_an_error_at_the_query(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "postgres.extractor", "postgres", "      query: SELECT id, amount, note FROM items\n")
    _lock(path, "SELECT id, amount FROM items")
    result = compile_file(str(path), env={})
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "OSR-E211" and "SELECT id, amount FROM items" in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.col) == (9, 14)  # the query value
    assert "osirisc introspect" in " ".join(diag.notes)


def test_stale_lock_table_columns_and_component(tmp_path: Path) -> None:
    source = "      table: items\n      columns: [id, amount]\n"
    path = _pipeline(tmp_path, "postgres.extractor", "postgres", source)
    _lock(path, 'SELECT * FROM "public"."items"')  # written before `columns` was added
    assert [d.code for d in compile_file(str(path), env={}).diagnostics if d.is_error] == ["OSR-E211"]
    _lock(path, 'SELECT "id", "amount" FROM "public"."items"', component="mysql.extractor")
    [diag] = [d for d in compile_file(str(path), env={}).diagnostics if d.is_error]
    assert diag.code == "OSR-E211" and "mysql.extractor" in diag.message


def test_current_lock_is_used_white_space_and_semicolon_aside(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "postgres.extractor", "postgres", '      query: "SELECT id, amount FROM items;  "\n')
    _lock(path, "  SELECT id, amount FROM items\n")
    result = compile_file(str(path), env={})
    assert not result.failed and not result.diagnostics, result.diagnostics
    assert result.pipeline is not None and result.pipeline.steps[0].schema is not None
    assert result.pipeline.steps[0].schema.source == "lock"
    assert result.pipeline.steps[1].schema is not None  # the transform is now bound against the locked columns


def test_source_select_is_what_the_extractor_reads() -> None:
    config = {"schema": "s", "table": "t", "columns": ["a", 'b"c']}
    assert source_select("postgres", config) == 'SELECT "a", "b""c" FROM "s"."t"'
    assert source_select("mysql", {"table": "db.t"}) == "SELECT * FROM `db`.`t`"
    assert source_select("postgres", {"query": " SELECT 1;\n", "table": "x"}) == "SELECT 1"
    assert source_select("postgres", {}) is None


def test_drift_message_names_columns_and_types() -> None:
    entry = {"columns": [{"name": "id", "type": "int64"}, {"name": "amount", "type": "decimal(10,2)"}]}
    assert check_drift(entry, pa.schema([("id", pa.int64()), ("amount", pa.decimal128(10, 2))])) is None
    message = check_drift(entry, pa.schema([("id", pa.int32()), ("note", pa.string())])) or ""
    assert "missing column(s) 'amount'" in message
    assert "new column(s) 'note' string" in message
    assert "'id' int64 -> int32" in message
    swapped = check_drift(entry, pa.schema([("amount", pa.decimal128(10, 2)), ("id", pa.int64())])) or ""
    assert "column order changed" in swapped


# --------------------------------------------------------------------------------------------- drift at run time
TYPES_PG = (
    "id BIGINT PRIMARY KEY, amount NUMERIC(10,2), small SMALLINT, flag BOOLEAN, name TEXT, v VARCHAR(20), "
    "d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, f DOUBLE PRECISION, j JSONB, u UUID, b BYTEA"
)
TYPES_MY = (
    "id BIGINT PRIMARY KEY, amount DECIMAL(10,2), small SMALLINT, flag BOOLEAN, name TEXT, v VARCHAR(20), "
    "d DATE, ts DATETIME(6), f DOUBLE, b BLOB, i INT, t TINYINT"
)


def _run(path: Path) -> tuple[int, dict[str, object]]:
    rc = main(["run", str(path), "--runs-dir", str(path.parent / "runs"), "--format", "json"])
    newest = max((path.parent / "runs").rglob("status.json"), key=lambda p: p.stat().st_mtime_ns)
    return rc, json.loads(newest.read_text())


def _target_rows(tmp: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(tmp / "out.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM copy ORDER BY id").fetchall()


def _drift_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, execute, component: str, family: str, table: str):
    monkeypatch.chdir(tmp_path)
    path = _pipeline(tmp_path, component, family, f"      query: SELECT * FROM {table}\n")
    assert main(["introspect", str(path)]) == 0
    checked = compile_file(str(path), env={})
    assert not checked.failed and not checked.diagnostics, checked.diagnostics
    rc, status = _run(path)
    assert rc == 0, status  # every column type round-trips: no false drift
    before = _target_rows(tmp_path)  # what the good run wrote: a failed run must leave it exactly as it is
    assert len(before) == 2
    execute(f"ALTER TABLE {table} DROP COLUMN name")
    execute(f"ALTER TABLE {table} ADD COLUMN extra INTEGER")
    rc, status = _run(path)
    assert rc == 1
    error = str(status.get("error"))
    assert "OSR-E206" in error and "missing column(s) 'name'" in error and "new column(s) 'extra'" in error
    assert status["failed_steps"] == ["src"]
    steps = status["steps"]
    assert isinstance(steps, dict) and steps["out"]["status"] == "skipped" and steps["out"]["rows_in"] == 0
    assert _target_rows(tmp_path) == before
    events = "".join(p.read_text() for p in (tmp_path / "runs").rglob("events.jsonl"))
    assert '"code": "OSR-E206"' in events or '"code":"OSR-E206"' in events


@pytest.mark.db
def test_postgres_drift_fails_the_run_before_the_writer(
    tmp_path: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    (tmp_path / "osiris_connections.yaml").write_text(PG_CONNECTIONS)
    table = f'"{pg_schema}".items'
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} ({TYPES_PG})")
        conn.execute(
            f"INSERT INTO {table} VALUES (1, 1.50, 1, true, 'a\tb', 'x', '2024-01-01', '2024-01-01 10:00', "
            "'2024-01-01 10:00+02', 1.5, '{\"k\": 1}', '8e2c0f1e-9f7d-4a36-9d7e-2f3b1f4f1c11', '\\x00ff'), "
            "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        )

    def execute(sql: str) -> None:
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test", autocommit=True) as c:
            c.execute(sql)

    _drift_case(tmp_path, monkeypatch, execute, "postgres.extractor", "postgres", table)


@pytest.mark.db
def test_mysql_drift_fails_the_run_before_the_writer(
    tmp_path: Path, mysql_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pymysql

    (tmp_path / "osiris_connections.yaml").write_text(MY_CONNECTIONS.format(db=mysql_db))

    def execute(sql: str) -> None:
        conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=mysql_db, autocommit=True)
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    execute(f"CREATE TABLE items ({TYPES_MY})")
    execute(
        "INSERT INTO items VALUES (1, 1.50, 1, true, 'a\\tb', 'x', '2024-01-01', '2024-01-01 10:00', 1.5, "
        "x'00ff', 7, 3), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    _drift_case(tmp_path, monkeypatch, execute, "mysql.extractor", "mysql", "items")
