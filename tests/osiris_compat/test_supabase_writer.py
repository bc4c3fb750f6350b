"""Osiris's supabase.writer fields in osirisc: ``create_if_missing`` defaults to true (Osiris's compiler writes its
spec default, true, into every config), also for postgres.writer; ``ddl_channel`` auto/psycopg2 take the database
route osirisc always takes, http_sql is refused at check (OSR-E162) and the target stays as it was.

Run against the real PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from osiris.cli import main

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
CONNECTIONS = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres", "password": ""}
ROWS = "id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, 8))


def _pipeline(tmp: Path, component: str, config: dict[str, Any]) -> Path:
    family = component.split(".", maxsplit=1)[0]
    (tmp / "in.csv").write_text(ROWS)
    (tmp / "osiris_connections.yaml").write_text(yaml.safe_dump({"connections": {family: {"main": CONNECTIONS}}}))
    steps = [
        {"id": "src", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "in.csv"}},
        {
            "id": "out",
            "component": component,
            "mode": "write",
            "config": {"connection": f"@{family}.main", **config},
        },
    ]
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "compat", "steps": steps}, sort_keys=False))
    return path


def _rows(schema: str, table: str) -> list[tuple[Any, ...]] | None:
    with psycopg.connect(**PG) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone() == (None,):
            return None
        return [tuple(r) for r in conn.execute(f'SELECT id, name FROM "{schema}"."{table}" ORDER BY 1').fetchall()]


@pytest.mark.db
@pytest.mark.parametrize("component", ["supabase.writer", "postgres.writer"])
def test_a_missing_table_is_created_without_create_if_missing(
    component: str, pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Osiris's demo writes to a new table without the line; so does osirisc, and `plan` shows the CREATE TABLE."""
    monkeypatch.chdir(tmp_path)
    path = _pipeline(tmp_path, component, {"schema": pg_schema, "table": "fresh"})
    assert main(["plan", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    write = report["writers"][0]["write"]
    create = f'CREATE TABLE IF NOT EXISTS "{pg_schema}"."fresh"'
    assert write["create_if_missing"] is True
    assert any(s.startswith(create) for s in write["statements"]["prepare"]), write
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs")]) == 0
    assert _rows(pg_schema, "fresh") == [(i, f"n{i}") for i in range(1, 8)]
    # create_if_missing: false still refuses a missing table, and creates nothing
    path = _pipeline(tmp_path, component, {"schema": pg_schema, "table": "absent", "create_if_missing": False})
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs")]) == 1
    assert _rows(pg_schema, "absent") is None


@pytest.mark.db
def test_ddl_channel_auto_and_psycopg2_write_over_postgres_and_http_sql_is_refused(
    pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for channel in ("auto", "psycopg2"):
        path = _pipeline(tmp_path, "supabase.writer", {"schema": pg_schema, "table": channel, "ddl_channel": channel})
        assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs")]) == 0
        assert _rows(pg_schema, channel) == [(i, f"n{i}") for i in range(1, 8)]
    capsys.readouterr()
    path = _pipeline(tmp_path, "supabase.writer", {"schema": pg_schema, "table": "http", "ddl_channel": "http_sql"})
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "p.yaml:" in err and "error[OSR-E162]" in err and "ddl_channel: http_sql" in err, err
    assert _rows(pg_schema, "http") is None


def test_plan_says_a_run_may_create_the_table_when_its_columns_are_known_only_at_run_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database source without a schema lock: the statement waits for the columns, the plan still says so."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "osiris_connections.yaml").write_text(
        yaml.safe_dump({"connections": {"supabase": {"main": CONNECTIONS}}})
    )
    for create, expected in ((None, True), (False, False)):
        config: dict[str, Any] = {"connection": "@supabase.main", "table": "later"}
        if create is not None:
            config["create_if_missing"] = create
        steps = [
            {"id": "src", "component": "supabase.extractor", "mode": "read",
             "config": {"connection": "@supabase.main", "query": "SELECT 1 AS id"}},
            {"id": "out", "component": "supabase.writer", "mode": "write", "config": config},
        ]  # fmt: skip
        (tmp_path / "p.yaml").write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "later", "steps": steps}))
        assert main(["plan", "p.yaml"]) == 0
        out = capsys.readouterr().out
        assert "decided at run time" in out, out
        line = 'CREATE TABLE IF NOT EXISTS "public"."later" (the input\'s columns)'
        assert (line in out) is expected, out
