"""Osiris 0.5.7 (PyPI ``osiris-pipeline``) measured where it can do the job here: MySQL -> CSV and CSV -> DuckDB ->
CSV. It runs from its own virtualenv ``bench/.venv-osiris`` (pinned in ``bench/requirements-osiris.txt``), made on
first use like the reference tools' venv, with ``osiris run`` of pipeline and connection files written here (the
connection takes every value from the environment: ``${BENCH_MYSQL_PASSWORD}``, never a literal). Its Postgres
writer (supabase.writer) needs a PostgREST gateway, which cannot run on this machine: no Postgres row for Osiris."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.settings import BENCH_DIR, Settings

REQUIREMENTS = BENCH_DIR / "requirements-osiris.txt"
VENV = BENCH_DIR / ".venv-osiris"
NAME = "osiris-0.5.7"
NO_POSTGRES = "Osiris writes Postgres only through Supabase's PostgREST gateway, which cannot run here"

CONNECTIONS = """version: 1
connections:
  mysql:
    bench:
      default: true
      host: ${BENCH_MYSQL_HOST}
      port: ${BENCH_MYSQL_PORT}
      database: ${BENCH_MYSQL_DATABASE}
      user: ${BENCH_MYSQL_USER}
      password: {password}
"""
MYSQL_CSV = """oml_version: "0.1.0"
name: osiris-mysql-csv
steps:
- id: extract
  component: mysql.extractor
  mode: read
  config:
    connection: "@mysql.bench"
    query: "SELECT * FROM {table}"
- id: write
  component: filesystem.csv_writer
  mode: write
  needs: ["extract"]
  config:
    path: "{out}"
    delimiter: ","
    header: true
    encoding: "utf-8"
    newline: "lf"
"""
CSV_DUCKDB = """oml_version: "0.1.0"
name: osiris-csv-duckdb
steps:
- id: orders
  component: filesystem.csv_extractor
  mode: read
  config:
    path: "{src}"
- id: totals
  component: duckdb.processor
  mode: transform
  needs: ["orders"]
  config:
    query: "{sql}"
- id: write
  component: filesystem.csv_writer
  mode: write
  needs: ["totals"]
  config:
    path: "{out}"
    delimiter: ","
    header: true
    encoding: "utf-8"
    newline: "lf"
"""


def ensure(log: Callable[[str], None]) -> str | None:
    """Create or update the venv; None when ready, else why not (the Osiris cases are then skipped)."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == want:
        return None
    log(f"setting up Osiris in {VENV} (once) ...")
    python = VENV / "bin" / "python"
    for argv in (
        [sys.executable, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode:
            return f"{' '.join(argv[:4])} failed: {proc.stderr.strip()[-800:]}"
    stamp.write_text(want)
    return None


def project(s: Settings, name: str, pipeline: str) -> Path:
    """A folder holding the connections file and ``pipeline`` (Osiris runs from it and writes its logs there)."""
    folder = s.work_dir / "osiris" / name
    folder.mkdir(parents=True, exist_ok=True)
    # an empty password is written as "" (Osiris refuses an empty ${VAR}); any other stays in the environment
    password = "${BENCH_MYSQL_PASSWORD}" if s.mysql_password else '""'
    (folder / "osiris_connections.yaml").write_text(CONNECTIONS.replace("{password}", password))
    (folder / "pipeline.yaml").write_text(pipeline)
    return folder


def mysql_csv_argv(s: Settings, table: str, out: Path) -> tuple[list[str], Path]:
    folder = project(s, "mysql_csv", MYSQL_CSV.format(table=table, out=out))
    return [str(VENV / "bin" / "osiris"), "run", "pipeline.yaml"], folder


def csv_duckdb_argv(s: Settings, src: Path, sql: str, out: Path) -> tuple[list[str], Path]:
    folder = project(s, "csv_duckdb", CSV_DUCKDB.format(src=src, sql=sql, out=out))
    return [str(VENV / "bin" / "osiris"), "run", "pipeline.yaml"], folder
