"""A connection's `schema` (x-connection-fields: schema: allowed) is honoured: a step that sets no `schema` reads
from and writes into the connection's schema; a step's own `schema` wins. The build plans the spec's default (the
connections file is a run-time input); the run re-targets the write plan when it resolves the connection, and
`osirisc plan` shows the target a run will use."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
import yaml

from osiris import dialects
from osiris.cli import main

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
PG_FIELDS = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres", "password": ""}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
IN_CSV = "id,name\n1,a\n2,b\n"


def _pipeline(tmp: Path, writer: str, config: dict[str, Any], connections: dict[str, Any]) -> Path:
    (tmp / "osiris_connections.yaml").write_text(yaml.safe_dump({"connections": connections}))
    (tmp / "in.csv").write_text(IN_CSV)
    steps = [
        {"id": "src", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "in.csv"}},
        {"id": "out", "component": writer, "mode": "write", "needs": ["src"], "config": config},
    ]
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "connschema", "steps": steps}, sort_keys=False))
    return path


def _run(tmp: Path, path: Path) -> dict[str, Any]:
    rc = main(["run", str(path), "--runs-dir", str(tmp / "runs")])
    status = max((tmp / "runs").rglob("status.json"), key=lambda p: p.stat().st_mtime_ns)
    assert rc == 0, status.read_text()
    return dict(json.loads(status.read_text()))


def _plan(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["plan", str(path), "--format", "json", "-o", str(path.parent / "build")]) == 0
    return dict(json.loads(capsys.readouterr().out)["writers"][0])


def _pg_rows(schema: str, table: str) -> list[tuple[Any, ...]] | None:
    with psycopg.connect(**PG) as conn:
        if conn.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"']).fetchone() == (None,):
            return None
        return conn.execute(f'SELECT id, name FROM "{schema}"."{table}" ORDER BY id').fetchall()


@pytest.fixture
def other_pg_schema() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.mark.db
@pytest.mark.parametrize("component", ["postgres.writer", "supabase.writer"])
def test_postgres_writer_writes_into_the_connections_schema(
    component: str, pg_schema: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    family = component.split(".", maxsplit=1)[0]
    table = f"cs_{uuid.uuid4().hex[:8]}"
    conns = {family: {"main": {**PG_FIELDS, "schema": pg_schema}}}
    path = _pipeline(tmp_path, component, {"connection": f"@{family}.main", "table": table}, conns)
    planned = _plan(path, capsys)
    assert planned["write"]["target"]["schema"] == pg_schema
    assert planned["schema_from"] == f"@{family}.main"
    assert f'"{pg_schema}"."{table}"' in (tmp_path / "build" / "ddl.sql").read_text()
    _run(tmp_path, path)
    assert _pg_rows(pg_schema, table) == [(1, "a"), (2, "b")]
    assert _pg_rows("public", table) is None  # not the spec's default


@pytest.mark.db
def test_postgres_writer_steps_own_schema_wins(
    pg_schema: str, other_pg_schema: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = f"cs_{uuid.uuid4().hex[:8]}"
    conns = {"postgres": {"main": {**PG_FIELDS, "schema": pg_schema}}}
    config = {"connection": "@postgres.main", "schema": other_pg_schema, "table": table}
    path = _pipeline(tmp_path, "postgres.writer", config, conns)
    planned = _plan(path, capsys)
    assert planned["write"]["target"]["schema"] == other_pg_schema
    assert "schema_from" not in planned
    _run(tmp_path, path)
    assert _pg_rows(other_pg_schema, table) == [(1, "a"), (2, "b")]
    assert _pg_rows(pg_schema, table) is None


@pytest.mark.db
def test_postgres_extractor_reads_from_the_connections_schema(
    pg_schema: str, other_pg_schema: str, tmp_path: Path
) -> None:
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".src (id int, name text)')
        conn.execute(f"INSERT INTO \"{pg_schema}\".src VALUES (7, 'from the connection schema')")
    (tmp_path / "osiris_connections.yaml").write_text(
        yaml.safe_dump({"connections": {"postgres": {"main": {**PG_FIELDS, "schema": pg_schema}}}})
    )
    steps = [
        {"id": "src", "component": "postgres.extractor", "mode": "read",
         "config": {"connection": "@postgres.main", "table": "src"}},
        {"id": "out", "component": "postgres.writer", "mode": "write", "needs": ["src"],
         "config": {"connection": "@postgres.main", "schema": other_pg_schema, "table": "copy"}},
    ]  # fmt: skip
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "connschema", "steps": steps}, sort_keys=False))
    _run(tmp_path, path)
    assert _pg_rows(other_pg_schema, "copy") == [(7, "from the connection schema")]


@pytest.mark.db
def test_mysql_writer_writes_into_the_connections_schema(
    mysql_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """For MySQL the schema is a database: the connection's `schema` beats its `database` as the target."""
    table = f"cs_{uuid.uuid4().hex[:8]}"
    conns = {"mysql": {"main": {**MY, "schema": mysql_db}}}
    config = {"connection": "@mysql.main", "table": table, "create_if_missing": True}
    path = _pipeline(tmp_path, "mysql.writer", config, conns)
    assert _plan(path, capsys)["write"]["target"]["qualified"] == f"`{mysql_db}`.`{table}`"
    _run(tmp_path, path)
    conn = pymysql.connect(**MY)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id, name FROM `{mysql_db}`.`{table}` ORDER BY id")
            assert cur.fetchall() == ((1, "a"), (2, "b"))
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema='test' AND table_name=%s",
                        [table])  # fmt: skip
            assert cur.fetchone() == (0,)
    finally:
        conn.close()


@pytest.mark.db
def test_a_bad_connection_schema_fails_the_run_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A schema known only at run time (``${VAR}``) that cannot be a target is refused at preflight (OSR-E316)."""
    table = f"cs_{uuid.uuid4().hex[:8]}"
    conns = {"postgres": {"main": {**PG_FIELDS, "schema": "${CS_SCHEMA}"}}}
    path = _pipeline(tmp_path, "postgres.writer", {"connection": "@postgres.main", "table": table}, conns)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CS_SCHEMA", "a" * 200)  # longer than any identifier
        rc = main(["run", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert rc == 2
    assert "OSR-E316" in capsys.readouterr().err
    assert _pg_rows("public", table) is None


def test_retarget_keeps_the_plan_and_changes_the_schema() -> None:
    columns = [{"name": "id", "type": "int64", "nullable": False}]
    plan = dialects.plan_write("postgres", {"schema": "public", "table": "t"}, "upsert", columns, ["id"])
    moved = dialects.retarget(plan, "analytics")
    assert moved["target"]["qualified"] == '"analytics"."t"'
    assert {k: v for k, v in moved.items() if k not in ("target", "load_table", "statements")} == {
        k: v for k, v in plan.items() if k not in ("target", "load_table", "statements")
    }
    assert all('"public"' not in sql for sqls in moved["statements"].values() for sql in sqls)
    assert dialects.retarget(plan, "public") == plan


def test_check_refuses_a_connection_schema_that_cannot_name_a_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Known in the connections file, the bad name is OSR-E316 at `osirisc check`, at the connection's field."""
    conns = {"postgres": {"main": {**PG_FIELDS, "schema": "a" * 200}}}
    path = _pipeline(tmp_path, "postgres.writer", {"connection": "@postgres.main", "table": "t"}, conns)
    capsys.readouterr()
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "OSR-E316" in err and "field 'schema'" in err and "osiris_connections.yaml" in err
    conns["postgres"]["main"]["schema"] = "analytics"
    _pipeline(tmp_path, "postgres.writer", {"connection": "@postgres.main", "table": "t"}, conns)
    assert main(["check", str(path)]) == 0


@pytest.mark.db
def test_connections_doctor_checks_the_connections_schema(
    pg_schema: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`osirisc connections doctor --pipeline` probes the source and target a run uses: in the connection's schema."""
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".src (id int)')
    (tmp_path / "osiris_connections.yaml").write_text(
        yaml.safe_dump({"connections": {"postgres": {"main": {**PG_FIELDS, "schema": pg_schema}}}})
    )
    steps = [
        {"id": "src", "component": "postgres.extractor", "mode": "read",
         "config": {"connection": "@postgres.main", "table": "src"}},
        {"id": "out", "component": "postgres.writer", "mode": "write", "needs": ["src"],
         "config": {"connection": "@postgres.main", "table": "dst"}},
    ]  # fmt: skip
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "connschema", "steps": steps}, sort_keys=False))
    capsys.readouterr()
    rc = main(
        ["connections", "doctor", "--pipeline", str(path), "--connections", str(tmp_path / "osiris_connections.yaml")]
    )
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    assert "step 'src': can read its source" in out.out
    assert f"step 'out': may append into {pg_schema}.dst" in out.out


def test_check_warns_about_a_connection_field_the_component_does_not_take_from_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """write_mode is a config field of postgres.writer, not a connection field: in a connection it would be ignored."""
    conns = {"postgres": {"main": {**PG_FIELDS, "write_mode": "truncate", "schema": "analytics"}}}
    path = _pipeline(tmp_path, "postgres.writer", {"connection": "@postgres.main", "table": "t"}, conns)
    capsys.readouterr()
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "OSR-W316" in err and "field 'write_mode' has no effect" in err
    assert "field 'schema'" not in err  # a connection field: honoured
