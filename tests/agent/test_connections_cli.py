"""`osirisc connections list|doctor` against the real servers: secrets never printed, one line per problem,
privileges checked for what each step needs (a SELECT-only user may read but not write)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
from conftest import MY, PG

PIPELINE = """\
oml_version: "0.1.0"
name: doctor-demo
steps:
  - id: read-src
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.src"
      query: SELECT id, name FROM people
  - id: write-dst
    component: postgres.writer
    mode: write
    needs: [read-src]
    config:
      connection: "@postgres.dst"
      schema: SCHEMA
      table: people
      write_mode: replace
      primary_key: id
"""


def _osirisc(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "osiris.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def reader_roles(mysql_db: str, pg_schema: str) -> Iterator[tuple[str, str]]:
    """A SELECT-only MariaDB user and a Postgres role that may not create in the schema; both with a password."""
    name = f"doc_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    my = pymysql.connect(**MY, autocommit=True)
    with my.cursor() as cur:
        cur.execute(f"CREATE TABLE `{mysql_db}`.people (id INT PRIMARY KEY, name TEXT)")
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT ON `{mysql_db}`.* TO '{name}'@'%'")
    pg = psycopg.connect(**PG, autocommit=True)
    pg.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    pg.execute(f'GRANT USAGE ON SCHEMA "{pg_schema}" TO {name}')
    try:
        yield name, password
    finally:
        with my.cursor() as cur:
            cur.execute(f"DROP USER '{name}'@'%'")
        my.close()
        pg.execute(f'REVOKE ALL ON SCHEMA "{pg_schema}" FROM {name}')
        pg.execute(f"DROP ROLE {name}")
        pg.close()


@pytest.mark.db
def test_list_masks_and_doctor_reports_privileges(
    tmp_path: Path, mysql_db: str, pg_schema: str, reader_roles: tuple[str, str]
) -> None:
    user, password = reader_roles
    literal = f"literal-{uuid.uuid4().hex}"
    (tmp_path / "osiris_connections.yaml").write_text(
        f"""connections:
  mysql:
    src:
      host: 127.0.0.1
      port: 3306
      database: {mysql_db}
      user: {user}
      password: ${{SRC_PASSWORD}}
  postgres:
    dst:
      host: 127.0.0.1
      port: 5432
      database: test
      user: {user}
      password: "{literal}"
    down:
      host: 127.0.0.1
      port: 1
      database: test
      user: postgres
      password: ${{UNSET_FOR_DOCTOR:-}}
"""
    )
    (tmp_path / "p.yaml").write_text(PIPELINE.replace("SCHEMA", pg_schema))
    env = {"PATH": "/usr/bin:/bin", "SRC_PASSWORD": password, "HOME": str(tmp_path), "OSIRIS_CACHE_DIR": ""}
    listed = _osirisc(tmp_path, env, "connections", "list")
    assert listed.returncode == 0, listed.stderr
    assert "@mysql.src" in listed.stdout and "password: ${SRC_PASSWORD}" in listed.stdout
    assert "password: ***" in listed.stdout
    doctor = _osirisc(tmp_path, env, "connections", "doctor", "--pipeline", "p.yaml", "--timeout", "3")
    out = doctor.stdout + doctor.stderr
    assert doctor.returncode == 1, out
    assert "ok   @mysql.src: MariaDB/MySQL" in out and "step 'read-src': can read its source" in out
    assert "FAIL @postgres.dst: PostgreSQL" in out
    assert f"step 'write-dst' (replace into {pg_schema}.people) lacks CREATE on schema {pg_schema}" in out
    assert "FAIL @postgres.down" in out and "cannot connect" in out
    for secret in (password, literal):
        assert secret not in out and secret not in listed.stdout
    with psycopg.connect(**PG, autocommit=True) as pg:
        pg.execute(f'GRANT CREATE ON SCHEMA "{pg_schema}" TO {user}')
    doctor = _osirisc(tmp_path, env, "connections", "doctor", "@mysql.src", "@postgres.dst", "--pipeline", "p.yaml")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"step 'write-dst': may replace into {pg_schema}.people" in doctor.stdout
