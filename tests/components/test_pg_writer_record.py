"""postgres.writer through ``osirisc run``: a unique violation names the key (DETAIL) with secrets masked, and the
statements executed are recorded in ``<run>/ddl/<step>.sql`` (never row data), committed or rolled back."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from writer_data import text

from osiris.cli import main

pytestmark = pytest.mark.db

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
SECRET = "Hunter2-secret-pw"  # the server trusts local connections: any password is accepted, none checked


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WR_TEST_PG_PASSWORD", SECRET)


def pg(sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(**PG, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def run(tmp_path: Path, rows: list[tuple[int, str | None]], config: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """``osirisc run`` of CSV rows ``(director_id, code)`` into postgres.writer over a connection with a password."""
    with (tmp_path / "rows.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("director_id", "code"), *rows])
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  postgres:\n    wh:\n      host: 127.0.0.1\n      port: 5432\n      database: test\n"
        "      user: postgres\n      password: ${WR_TEST_PG_PASSWORD}\n",
        encoding="utf-8",
    )
    steps = [
        {"id": "read", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "rows.csv"}},
        {"id": "write", "component": "postgres.writer", "mode": "write", "needs": ["read"],
         "config": {"connection": "@postgres.wh", "table": "t", "create_if_missing": True, **config}},
    ]  # fmt: skip
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(json.dumps({"oml_version": "0.1.0", "name": "rec", "steps": steps}), encoding="utf-8")
    runs = tmp_path / "runs"
    code = main(["run", str(pipeline), "--runs-dir", str(runs), "--format", "json"])
    [run_dir] = list((runs / "rec").iterdir())
    status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    return code, status, (run_dir / "ddl" / "write.sql").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("primary_key", "duplicate", "detail"),
    [
        ("director_id", (5, "x"), "Key (director_id)=(5) already exists."),
        (["director_id", "code"], (5, SECRET), "Key (director_id, code)=(5, ***) already exists."),
    ],
)
def test_unique_violation_names_the_key_with_secrets_masked(
    pg_schema: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    primary_key: Any,
    duplicate: tuple[int, str],
    detail: str,
) -> None:
    keys = [primary_key] if isinstance(primary_key, str) else primary_key
    pg(f'CREATE TABLE "{pg_schema}".t (director_id BIGINT, code TEXT, PRIMARY KEY ({", ".join(keys)}))')
    pg(f"INSERT INTO \"{pg_schema}\".t VALUES (5, '{duplicate[1]}')")
    rows = [(i, text(i) or "none") for i in range(6, 1000)] + [duplicate]  # no NULL: code may be in the key
    config = {"schema": pg_schema, "write_mode": "append", "primary_key": primary_key}
    code, status, record = run(tmp_path, rows, config)
    out = capsys.readouterr()
    assert code == 1
    assert detail in status["error"] and "UniqueViolation" in status["error"]
    assert detail in out.out
    for text_out in (out.out, out.err, record, json.dumps(status)):
        assert SECRET not in text_out
    assert pg(f'SELECT count(*) FROM "{pg_schema}".t') == [(1,)]
    assert record.endswith(f'COPY "{pg_schema}"."t" ("director_id", "code") FROM STDIN (FORMAT BINARY);\nROLLBACK;\n')


@pytest.mark.parametrize("mode", ["append", "truncate", "replace", "upsert"])
def test_ddl_record_holds_the_statements_executed(pg_schema: str, tmp_path: Path, mode: str) -> None:
    rows = [(i, text(i)) for i in range(2000)]
    code, status, record = run(tmp_path, rows, {"schema": pg_schema, "write_mode": mode, "primary_key": "director_id"})
    assert code == 0, status
    t, stg = f'"{pg_schema}"."t"', '"pg_temp"."osiris_stg_t"'
    create = f'CREATE TABLE IF NOT EXISTS {t} ("director_id" BIGINT NOT NULL, "code" TEXT, PRIMARY KEY ("director_id"))'
    lock = [
        "SET LOCAL lock_timeout = '30000ms'",
        f"SELECT pg_try_advisory_xact_lock(hashtextextended('osiris write {pg_schema}.t', 0))",
    ]
    cols = '("director_id", "code")'
    staged = [f"DROP TABLE IF EXISTS {stg}", f'CREATE TEMP TABLE {stg} ("director_id" BIGINT, "code" TEXT)']
    expected = {
        "append": [*lock, create, f"COPY {t} {cols} FROM STDIN (FORMAT BINARY)"],
        "truncate": [*lock, create, f"TRUNCATE TABLE {t}", f"COPY {t} {cols} FROM STDIN (FORMAT BINARY)"],
        # a replace into the table this run creates loads straight into it (docs/ddl.md, "Load paths")
        "replace": [*lock, create, f"COPY {t} {cols} FROM STDIN (FORMAT BINARY)"],
        "upsert": [*lock, create, *staged, f"COPY {stg} {cols} FROM STDIN (FORMAT BINARY)",
                   f'INSERT INTO {t} {cols} SELECT DISTINCT ON ("director_id") "director_id", "code" FROM {stg} '
                   'ORDER BY "director_id", ctid DESC '
                   'ON CONFLICT ("director_id") DO UPDATE SET "code" = EXCLUDED."code"',
                   f"DROP TABLE IF EXISTS {stg}"],
    }[mode]  # fmt: skip
    assert record == "".join(f"{s};\n" for s in [*expected, "COMMIT"])
    assert "back\\slash" not in record and "😀" not in record  # statements only, no row data
    assert pg(f'SELECT count(*) FROM "{pg_schema}".t') == [(2000,)]
