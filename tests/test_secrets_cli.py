"""Secrets and connections through the real ``osirisc`` (subprocesses): check never echoes a secret whatever pass
reports, connections name their server/database/user or are refused (never PG*/MYSQL* or library defaults), and a
run masks secret values without touching keys or ordinary identifiers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
READ_CSV = """\
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data.csv}
"""
PG_ENV_TRAPS = {  # what libpq would read for a missing field; none of it may be used
    "PGHOST": "127.0.0.1",
    "PGPORT": "5432",
    "PGDATABASE": "test",
    "PGUSER": "postgres",
    "PGPASSWORD": "from-the-environment",
    "PGOPTIONS": "-c search_path=pg_catalog",
    "PGPASSFILE": "/nonexistent/pgpass",
    "MYSQL_HOST": "127.0.0.1",
    "MYSQL_TCP_PORT": "3306",
    "USER": "root",
}


def osirisc(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "OSIRIS_HOME": str(folder), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "osiris.cli", *args],
        cwd=folder,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _pipeline(*steps: str) -> str:
    return 'oml_version: "0.1.0"\nname: secrets-cli\nsteps:\n' + READ_CSV + "".join(steps)


def _writer(config: str, component: str = "postgres.writer", sid: str = "write") -> str:
    return f"  - id: {sid}\n    component: {component}\n    mode: write\n    needs: [read]\n    config: {config}\n"


# -- #13.8: check never prints an inline secret, whatever pass reports on its line --------------------------------
@pytest.mark.parametrize(
    ("config", "code"),
    [
        # E150: a typo'd key and the real one on the same line (redact_secrets never runs: validate_config stopped)
        ("{table: t, host: h, database: d, user: u, pasword: Hunter2-typo-sEcR, password: Hunter3-real-sEcR}", "E150"),
        # E158: a connection field overridden, with a URL password in another value on the same line
        (
            '{connection: "@postgres.w", table: t, password: Hunter4-over-sEcR, '
            'sslmode: "postgres://a:Hunter5-url-sEcR@h/x"}',
            "E158",
        ),
        # two secret-looking values on one line, reported by redact_secrets itself
        ('{table: t, host: h, database: d, user: u, password: Hunter6-a-sEcR, pg_dsn: "Hunter7-b-sEcR"}', "E180"),
    ],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_never_prints_inline_secrets(tmp_path: Path, config: str, code: str, fmt: str) -> None:
    _write(tmp_path, "p.yaml", _pipeline(_writer(config)))
    _write(tmp_path, "data.csv", "a\n1\n")
    _write(tmp_path, "osiris_connections.yaml", "connections:\n  postgres:\n    w: {host: h, database: d, user: u}\n")
    out = osirisc(tmp_path, "check", "p.yaml", "--format", fmt)
    assert out.returncode == 2, out.stderr
    assert f"OSR-{code}" in out.stdout + out.stderr
    assert "Hunter" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_check_duplicate_secret_key_is_masked(tmp_path: Path) -> None:
    """OSR-E014 is a frontend error: no pass ran, the source lines are masked anyway."""
    dsn = '"host=h password=Hunter8-sEcR"'
    config = f"\n      table: t\n      pg_dsn: {dsn}\n      pg_dsn: {dsn}"
    _write(tmp_path, "p.yaml", _pipeline(_writer(config)))
    out = osirisc(tmp_path, "check", "p.yaml")
    assert out.returncode == 2 and "OSR-E014" in out.stderr, out.stderr
    assert "Hunter8" not in out.stderr and "pg_dsn: ***" in out.stderr


def test_env_placeholder_is_not_length_checked(tmp_path: Path) -> None:
    """``key`` has minLength 20: ``${env.SUPA_KEY}`` is a reference, not a 15-character key."""
    config = '{table: t, host: h, database: d, user: u, key: "${env.SUPA_KEY}"}'
    _write(tmp_path, "p.yaml", _pipeline(_writer(config, "supabase.writer")))
    _write(tmp_path, "data.csv", "a\n1\n")
    out = osirisc(tmp_path, "check", "p.yaml")
    assert out.returncode == 0, out.stderr
    assert "at least 20" not in out.stderr


# -- #13.10: no route, no connection ------------------------------------------------------------------------------
SUPABASE_API_ONLY = """\
connections:
  supabase:
    main:
      url: https://abcdefgh.supabase.co
      service_role_key: ${SUPA_SRK}
"""


def _table_exists(dbname: str, schema: str, table: str) -> bool:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
        return row is not None and row[0] is not None


@pytest.mark.db
@pytest.mark.slow
def test_supabase_api_credentials_only_is_refused(tmp_path: Path, pg_schema: str) -> None:
    """url + service_role_key used to run "ok" and fill a table in libpq's default database. Now: check and run
    refuse it with the fix, even with PGHOST/PGDATABASE/PGUSER set in the environment, and nothing is created."""
    _write(tmp_path, "osiris_connections.yaml", SUPABASE_API_ONLY)
    _write(tmp_path, "data.csv", "id,name\n1,a\n2,b\n")
    config = f'{{connection: "@supabase.main", schema: {pg_schema}, table: sb, create_if_missing: true}}'
    _write(tmp_path, "p.yaml", _pipeline(_writer(config, "supabase.writer")))
    env = {**PG_ENV_TRAPS, "SUPA_SRK": "sEcR-service-role-key-0123456789abcdef"}
    checked = osirisc(tmp_path, "check", "p.yaml", env=env)
    assert checked.returncode == 2, checked.stderr
    assert "OSR-E316" in checked.stderr and "osiris_connections.yaml" in checked.stderr
    assert "@supabase.main" in checked.stderr and "Connect panel" in checked.stderr and "pg_dsn" in checked.stderr
    ran = osirisc(tmp_path, "run", "p.yaml", "--runs-dir", "runs", env=env)
    assert ran.returncode == 2, ran.stderr
    assert "OSR-E316" in ran.stderr and "Connect panel" in ran.stderr
    assert not _table_exists("test", pg_schema, "sb")
    assert not (tmp_path / "runs").exists()
    built = osirisc(tmp_path, "build", "p.yaml", "-o", "b", env=env)  # the runtime alone refuses it too
    assert built.returncode == 0, built.stderr
    plan_run = osirisc(tmp_path, "run", "--plan", "b/plan.json", "--runs-dir", "runs", env=env)
    assert plan_run.returncode == 2 and "OSR-E316" in plan_run.stderr and "Connect panel" in plan_run.stderr
    assert not _table_exists("test", pg_schema, "sb")
    assert "sEcR-service" not in checked.stderr + ran.stderr + plan_run.stderr


@pytest.mark.db
def test_missing_database_is_refused_not_taken_from_pgdatabase(tmp_path: Path, pg_schema: str) -> None:
    _write(tmp_path, "osiris_connections.yaml", "connections:\n  postgres:\n    w: {host: 127.0.0.1, user: postgres}\n")
    _write(tmp_path, "data.csv", "id\n1\n")
    config = f'{{connection: "@postgres.w", schema: {pg_schema}, table: t, create_if_missing: true}}'
    _write(tmp_path, "p.yaml", _pipeline(_writer(config)))
    ran = osirisc(tmp_path, "run", "p.yaml", "--runs-dir", "runs", env=PG_ENV_TRAPS)
    assert ran.returncode == 2, ran.stderr
    assert "field 'database' is missing" in ran.stderr and "@postgres.w" in ran.stderr
    assert not _table_exists("test", pg_schema, "t")


@pytest.mark.db
def test_explicit_connection_wins_over_pg_environment(tmp_path: Path, pg_schema: str) -> None:
    """Every libpq parameter is explicit: PGOPTIONS (search_path), PGPASSWORD, PGPASSFILE change nothing, and the
    rows land where the connection says."""
    _write(
        tmp_path,
        "osiris_connections.yaml",
        "connections:\n  postgres:\n    w: {host: 127.0.0.1, port: 5432, database: test, user: postgres}\n",
    )
    _write(tmp_path, "data.csv", "id,name\n" + "".join(f"{i},n{i}\n" for i in range(50)))
    config = f'{{connection: "@postgres.w", schema: {pg_schema}, table: t, create_if_missing: true}}'
    _write(tmp_path, "p.yaml", _pipeline(_writer(config)))
    env = {**PG_ENV_TRAPS, "PGHOST": "203.0.113.1", "PGDATABASE": "nosuchdb", "PGUSER": "nosuchuser"}
    ran = osirisc(tmp_path, "run", "p.yaml", "--runs-dir", "runs", env=env)
    assert ran.returncode == 0, ran.stderr
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test") as conn:
        assert conn.execute(f'SELECT count(*) FROM "{pg_schema}"."t"').fetchone() == (50,)


@pytest.mark.db
def test_mysql_connection_without_user_is_refused(tmp_path: Path, mysql_db: str) -> None:
    """No MYSQL_* variable, option file or login name stands in for a missing user."""
    conns = f"connections:\n  mysql:\n    m: {{host: 127.0.0.1, database: {mysql_db}}}\n"
    _write(tmp_path, "osiris_connections.yaml", conns)
    _write(tmp_path, "data.csv", "id\n1\n")
    _write(tmp_path, "p.yaml", _pipeline(_writer('{connection: "@mysql.m", table: t}', "mysql.writer")))
    checked = osirisc(tmp_path, "check", "p.yaml", env=PG_ENV_TRAPS)
    assert checked.returncode == 2 and "OSR-E316" in checked.stderr and "field 'user' is missing" in checked.stderr
    ran = osirisc(tmp_path, "run", "p.yaml", "--runs-dir", "runs", env=PG_ENV_TRAPS)
    assert ran.returncode == 2 and "field 'user' is missing" in ran.stderr, ran.stderr


@pytest.mark.parametrize(
    ("conns", "expected"),
    [
        (
            'connections:\n  postgres:\n    w:\n      host: h\n      port: "abc"\n      database: d\n      user: u\n',
            ["osiris_connections.yaml:5:13", "OSR-E316", "'@postgres.w'", "field 'port' must be integer"],
        ),
        (
            "connections:\n  postgres:\n    wh: {host: h, database: d, user: u}\n",
            ["p.yaml:", "OSR-E312", "'@postgres.w' is not in", "did you mean 'wh'?"],
        ),
        (
            "connections:\n  postgres:\n    w: {host: h, database: d, user: u, pasword: x}\n",
            ["osiris_connections.yaml:3:40", "OSR-E316", "unknown field 'pasword'", "did you mean 'password'?"],
        ),
    ],
)
def test_connections_file_problems_are_diagnostics(tmp_path: Path, conns: str, expected: list[str]) -> None:
    _write(tmp_path, "osiris_connections.yaml", conns)
    _write(tmp_path, "data.csv", "id\n1\n")
    _write(tmp_path, "p.yaml", _pipeline(_writer('{connection: "@postgres.w", table: t}')))
    for args in (("check", "p.yaml"), ("run", "p.yaml", "--runs-dir", "runs")):
        out = osirisc(tmp_path, *args)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and "ValueError" not in out.stderr
        for text in expected:
            assert text in out.stderr, out.stderr
    assert not (tmp_path / "runs").exists()


# -- #13.3 / #13.9: secrets equal to keys and words; identifiers never over-masked --------------------------------
def _json_values(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [x for v in data.values() for x in _json_values(v)]
    if isinstance(data, list):
        return [x for v in data for x in _json_values(v)]
    return [data] if isinstance(data, str) else []


@pytest.mark.db
@pytest.mark.parametrize("secret", ["event", "rows", "component"])
def test_secret_equal_to_an_event_key(tmp_path: Path, pg_schema: str, secret: str) -> None:
    """A password equal to an event/status key used to crash the run (KeyError, exit 3): keys are never masked."""
    _write(
        tmp_path,
        "osiris_connections.yaml",
        'connections:\n  postgres:\n    w: {host: 127.0.0.1, database: test, user: postgres, password: "${PW}"}\n',
    )
    _write(tmp_path, "data.csv", "id,name\n1,a\n2,b\n")
    config = f'{{connection: "@postgres.w", schema: {pg_schema}, table: t, create_if_missing: true}}'
    _write(tmp_path, "p.yaml", _pipeline(_writer(config)))
    ran = osirisc(tmp_path, "run", "p.yaml", "--runs-dir", "runs", env={"PW": secret})
    assert ran.returncode == 0, ran.stderr
    run_dir = next((tmp_path / "runs").glob("*/*"))
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[0]["event"] == "run_start" and events[-1]["event"] == "run_complete"
    status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    assert status["ok"] is True and set(status["steps"]) == {"read", "write"}
    for value in [*_json_values(events), *_json_values(status)]:
        assert secret not in value


@pytest.mark.db
def test_primary_key_value_is_not_masked_in_writer_messages(tmp_path: Path, pg_schema: str) -> None:
    """``primary_key: customer`` made "customer" a secret: the error read ``"public"."***_sales"``."""
    _write(
        tmp_path,
        "osiris_connections.yaml",
        "connections:\n  postgres:\n    w: {host: 127.0.0.1, database: test, user: postgres, password: pw-sEcR-1}\n",
    )
    _write(tmp_path, "data.csv", "customer,amount\na,1\n")
    config = f'{{connection: "@postgres.w", schema: {pg_schema}, table: customer_sales, create_if_missing: false, '
    config += "write_mode: append}"
    _write(tmp_path, "p.yaml", _pipeline(_writer(config.replace("append}", "upsert, primary_key: customer}"))))
    ran = osirisc(tmp_path, "run", "p.yaml", "--runs-dir", "runs")
    assert ran.returncode == 1, ran.stderr  # the table does not exist and create_if_missing is false
    assert f'"{pg_schema}"."customer_sales"' in ran.stderr, ran.stderr
    assert "***_sales" not in ran.stderr and "pw-sEcR-1" not in ran.stderr


def test_supabase_connection_with_pg_dsn_checks_clean_for_postgres_components(tmp_path: Path) -> None:
    """The fix the refusal suggests: pg_dsn beside the API fields, read by a postgres.* component too."""
    _write(
        tmp_path,
        "osiris_connections.yaml",
        "connections:\n  supabase:\n    main:\n      url: https://abcdefgh.supabase.co\n"
        "      service_role_key: ${SUPA_SRK}\n"
        "      pg_dsn: postgresql://postgres.abcdefgh:${SUPA_DB_PW}@aws-0-eu-west-1.pooler.supabase.com:5432/postgres\n",
    )
    _write(tmp_path, "data.csv", "id\n1\n")
    steps = _writer('{connection: "@supabase.main", table: t}', "postgres.writer") + _writer(
        '{connection: "@supabase.main", table: t2}', "supabase.writer", "write2"
    )
    _write(tmp_path, "p.yaml", _pipeline(steps))
    out = osirisc(tmp_path, "check", "p.yaml")
    assert out.returncode == 0, out.stderr
