"""infer_schemas + plan_ddl through the full compile; `osirisc plan` and `osirisc introspect` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pymysql
import pytest

from osiris.cli import main
from osiris.compile import compile_file
from osiris.dialects.lock import check_drift, lock_path, read_lock

CSV = "id,name,amount,day\n1,a,1.50,2024-01-01\n2,b,2.25,2024-02-02\n"


def _pipeline(tmp: Path, query: str, writer: str, name: str = "p.yaml") -> Path:
    (tmp / "people.csv").write_text(CSV)
    path = tmp / name
    path.write_text(
        'oml_version: "0.1.0"\nname: people\nsteps:\n'
        "  - id: read\n    component: filesystem.csv_extractor\n    mode: read\n    config:\n      path: people.csv\n"
        f"  - id: agg\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: {query}\n"
        f"  - id: out\n    component: duckdb.writer\n    mode: write\n    config:\n{writer}"
    )
    return path


WRITER = "      path: out.duckdb\n      table: totals\n      write_mode: upsert\n      primary_key: name\n"
QUERY = "SELECT name, SUM(amount) AS total, max(day) AS last FROM input_df GROUP BY name"


def test_csv_sql_and_writer_plan(tmp_path: Path) -> None:
    result = compile_file(str(_pipeline(tmp_path, QUERY, WRITER)), env={})
    assert not result.failed, result.diagnostics
    assert result.pipeline is not None and result.ctx is not None
    read, agg, out = result.pipeline.steps
    assert read.schema is not None and read.schema.source == "csv"
    assert [(c.name, c.type) for c in read.schema.columns] == [
        ("id", "int64"),
        ("name", "string"),
        ("amount", "float64"),
        ("day", "date"),
    ]
    assert agg.schema is not None and [(c.name, c.type) for c in agg.schema.columns] == [
        ("name", "string"),
        ("total", "float64"),
        ("last", "date"),
    ]
    assert out.write is not None and out.write["mode"] == "upsert" and out.write["primary_key"] == ["name"]
    assert any("ON CONFLICT" in s for s in out.write["statements"]["finalize"])


def test_sql_error_position_single_line(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, QUERY.replace("SELECT name,", "SELECT nme,"), WRITER)
    result = compile_file(str(path), env={})
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "OSR-E203" and "nme" in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.col, diag.span.end_col) == (13, 21, 24)


def test_sql_error_position_block_scalar(tmp_path: Path) -> None:
    query = "|\n        SELECT name,\n               SUM(amount) AS total\n        FORM input_df GROUP BY name"
    result = compile_file(str(_pipeline(tmp_path, query, WRITER)), env={})
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "OSR-E203"
    assert diag.span is not None and (diag.span.line, diag.span.col) == (16, 9)


def test_primary_key_not_in_input(tmp_path: Path) -> None:
    writer = WRITER.replace("primary_key: name", "primary_key: nam")
    result = compile_file(str(_pipeline(tmp_path, QUERY, writer)), env={})
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "OSR-E205" and "'nam'" in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.col, diag.span.end_col) == (21, 20, 23)


def _mysql_pipeline(tmp: Path, db: str) -> Path:
    (tmp / "osiris_connections.yaml").write_text(
        f"connections:\n  mysql:\n    default:\n      host: 127.0.0.1\n      port: 3306\n      database: {db}\n"
        "      user: root\n      password: ${OSIRIS_TEST_MYSQL_PASSWORD:-}\n"
    )
    path = tmp / "m.yaml"
    path.write_text(
        'oml_version: "0.1.0"\nname: m\nsteps:\n'
        '  - id: src\n    component: mysql.extractor\n    mode: read\n    config:\n      connection: "@mysql.default"\n'
        "      query: SELECT id, ts, price FROM items\n"
        "  - id: out\n    component: duckdb.writer\n    mode: write\n    config:\n      path: out.duckdb\n"
        "      table: items\n      write_mode: replace\n      primary_key: id\n"
    )
    return path


@pytest.mark.db
def test_introspect_lock_then_offline_plan(tmp_path: Path, mysql_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _mysql_pipeline(tmp_path, mysql_db)
    before = compile_file(str(path), env={})
    assert not before.failed and before.pipeline is not None and before.ctx is not None
    assert before.pipeline.steps[1].write is not None and before.pipeline.steps[1].write["statements"] is None
    capsys.readouterr()
    assert main(["plan", str(path), "--format", "json", "-o", str(tmp_path / "b0")]) == 0
    [deferred] = json.loads(capsys.readouterr().out)["writers"]
    assert deferred["deferred"] == (
        "input columns unknown at build time: mysql.extractor reads its schema from the source at run time "
        "(run `osirisc introspect`)"
    )
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=mysql_db, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, ts DATETIME(6), price DECIMAL(10,2))")
    assert main(["introspect", str(path)]) == 0
    text = lock_path(path).read_text()
    assert main(["introspect", str(path), "--check"]) == 0
    assert lock_path(path).read_text() == text  # deterministic
    entry = read_lock(lock_path(path))["src"]
    assert entry["columns"] == [
        {"name": "id", "nullable": False, "type": "int64"},
        {"name": "ts", "nullable": True, "type": "timestamp"},
        {"name": "price", "nullable": True, "type": "decimal(10,2)"},
    ]
    assert (
        check_drift(entry, pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("price", pa.decimal128(10, 2))]))
        is None
    )
    assert "price" in (
        check_drift(entry, pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("price", pa.float64())])) or ""
    )
    after = compile_file(str(path), env={})
    out = after.pipeline.steps[1] if after.pipeline else None
    assert out is not None and out.write is not None and out.write["statements"] is not None
    capsys.readouterr()
    assert main(["plan", str(path), "-o", str(tmp_path / "build")]) == 0
    printed = capsys.readouterr().out
    assert 'CREATE TABLE IF NOT EXISTS "main"."items" ("id" BIGINT NOT NULL, "ts" TIMESTAMP' in printed
    assert (tmp_path / "build" / "ddl.sql").read_text().count("CREATE TABLE IF NOT EXISTS") == 1
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE items MODIFY price DOUBLE")
    assert main(["introspect", str(path), "--check"]) == 1
    conn.close()


def test_plan_against_duckdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _pipeline(tmp_path, QUERY, WRITER)
    assert main(["plan", str(path), "--against", "--format", "json", "-o", str(tmp_path / "b")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["writers"][0]["against"]["status"] == "create"
    con = duckdb.connect(str(tmp_path / "out.duckdb"))
    con.execute("CREATE TABLE totals (name VARCHAR PRIMARY KEY, total DOUBLE)")
    con.close()
    assert main(["plan", str(path), "--against", "-o", str(tmp_path / "b")]) == 1
    assert "incompatible" in capsys.readouterr().out
    path.write_text(path.read_text() + "      schema_evolution: add_columns\n")
    assert main(["plan", str(path), "--against", "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "against target: add_columns" in out and 'ADD COLUMN "last" DATE' in out
