"""Ctrl-C / SIGTERM during a load (issue #13.1): a real ``osirisc run`` process, MariaDB (through the mariadb
client subprocess) -> each writer, signalled once its writer has loaded rows. The run must stop cleanly: exit
128 + signal, status.json and a ``run_cancelled`` event say so, the target is exactly as before, no temporary
file and no child process is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest
from conftest import MY, PG
from live_runs import alive, children, events, find_event, mysql_source, osirisc, run_dirs, wait_for, write_pipeline

pytestmark = [pytest.mark.db, pytest.mark.slow]

BEFORE = [(1, "kept one"), (2, "kept\ttwo"), (3, None)]


ROWS = 1_000_000  # a few seconds of loading for the fastest writer, so the signal lands mid-load under any load


@pytest.fixture(scope="module")
def source() -> Iterator[str]:
    with mysql_source(ROWS) as db:
        yield db


def _postgres(tmp_path: Path) -> tuple[dict[str, Any], Callable[[], Any], Callable[[], None]]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg.connect(**PG, autocommit=True)
    conn.execute(f'CREATE SCHEMA "{schema}"')
    conn.execute(f'CREATE TABLE "{schema}".t (id int, label text, maybe int)')
    conn.cursor().executemany(f'INSERT INTO "{schema}".t VALUES (%s, %s, NULL)', BEFORE)
    writer = {
        "component": "postgres.writer",
        "config": {"connection": "@postgres.main", "schema": schema, "table": "t", "write_mode": "append"},
    }

    def state() -> Any:
        return conn.execute(f'SELECT id, label, maybe FROM "{schema}".t ORDER BY id').fetchall()

    def drop() -> None:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()

    return writer, state, drop


def _mysql(tmp_path: Path) -> tuple[dict[str, Any], Callable[[], Any], Callable[[], None]]:
    db = f"t_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(**MY, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cur.execute(f"CREATE TABLE `{db}`.t (id INT, label VARCHAR(120), maybe INT)")
        cur.executemany(f"INSERT INTO `{db}`.t VALUES (%s, %s, NULL)", BEFORE)
    writer = {
        "component": "mysql.writer",
        "config": {"connection": "@mysql.main", "schema": db, "table": "t", "write_mode": "append"},
    }

    def state() -> Any:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id, label, maybe FROM `{db}`.t ORDER BY id")
            return cur.fetchall()

    def drop() -> None:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{db}`")
        conn.close()

    return writer, state, drop


def _duckdb(tmp_path: Path) -> tuple[dict[str, Any], Callable[[], Any], Callable[[], None]]:
    path = tmp_path / "target.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (id INTEGER, label VARCHAR, maybe INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?, NULL)", BEFORE)
    writer = {"component": "duckdb.writer", "config": {"path": str(path), "table": "t", "write_mode": "append"}}

    def state() -> Any:
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute("SELECT id, label, maybe FROM t ORDER BY id").fetchall()
        return rows, sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("target"))

    return writer, state, lambda: None


def _csv(tmp_path: Path) -> tuple[dict[str, Any], Callable[[], Any], Callable[[], None]]:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "target.csv"
    target.write_bytes(b'id,label,maybe\n1,"kept one",\n')
    writer = {"component": "filesystem.csv_writer", "config": {"path": str(target)}}

    def state() -> Any:
        return target.read_bytes(), sorted(p.name for p in out.iterdir())

    return writer, state, lambda: None


WRITERS = {"postgres": _postgres, "mysql": _mysql, "duckdb": _duckdb, "csv": _csv}


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("writer_name", sorted(WRITERS))
def test_signal_mid_load_stops_cleanly(tmp_path: Path, source: str, writer_name: str, signame: str) -> None:
    writer, state, drop = WRITERS[writer_name](tmp_path)
    try:
        before = state()
        pipeline = write_pipeline(tmp_path / "p", f"sig-{writer_name}", source, writer)
        runs = tmp_path / "runs"
        with (tmp_path / "out.log").open("wb") as log:
            # the CSV case is the Arrow writer's: the server-formatted export (tested in
            # tests/components/test_mysql_csv_export.py) reports rows only at its end
            env = {**os.environ, "OSIRIS_EXPORT": "off"}
            argv = osirisc("run", str(pipeline), "--runs-dir", str(runs))
            proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
            try:
                clients: set[int] = set()

                def loading() -> bool:  # the writer has loaded rows (and the source is not done)
                    clients.update(children(proc.pid))
                    return find_event(runs, "progress", "load") is not None

                wait_for("the writer's first progress event", loading, proc)
                assert clients, "the MySQL CLI read path runs the mariadb client as a child process"
                proc.send_signal(getattr(signal, signame))
                code = proc.wait(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
        output = (tmp_path / "out.log").read_text(encoding="utf-8")
        assert "Traceback" not in output and "Fatal Python error" not in output, output
        assert code == 128 + getattr(signal, signame), output
        assert f"run cancelled (received {signame})" in output
        (run_dir,) = run_dirs(runs)
        status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
        assert status["ok"] is False and status["state"] == "cancelled"
        assert status["cancelled"]["signal"] == signame and status["cancelled"]["not_stopped"] == []
        assert status["steps"]["load"]["status"] == "cancelled"
        assert 0 < status["steps"]["load"]["rows_written"] < ROWS
        kinds = [e["event"] for e in events(run_dir)]
        assert kinds[-2:] == ["run_cancelled", "run_complete"]
        assert not (run_dir / "tmp").exists() and not list(run_dir.glob(".*"))
        assert state() == before  # rolled back: not one row more, no temporary file beside the target
        assert not any(alive(pid) for pid in clients), "a client subprocess outlived osirisc"
    finally:
        drop()
