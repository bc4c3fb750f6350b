"""SIGKILL of the host (issue #13.4). A sandbox run's entry point must die with its host (it used to hang for
ever on a broken pipe, holding ``OSIRIS_SECRET_*`` in its environment) and the next start removes the folder the
killed host could not; a local run killed mid-load leaves its LOAD DATA row files only in its own ``tmp/``, which
the next run removes (and marks the killed run as interrupted)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg
import pymysql
import pytest
from conftest import MY, PG
from live_runs import alive, children, mysql_source, osirisc, run_dirs, wait_event, wait_for, write_pipeline

pytestmark = [pytest.mark.db, pytest.mark.slow]

SECRET = "pg-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def venv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``--reuse-venv`` cache for the module: the first sandbox run builds the venv, later ones reuse it."""
    return tmp_path_factory.mktemp("cache")


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def test_killed_host_takes_the_sandboxed_run_with_it(tmp_path: Path, venv_cache: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg.connect(**PG, autocommit=True)
    conn.execute(f'CREATE SCHEMA "{schema}"')
    writer = {
        "component": "postgres.writer",
        "config": {"connection": "@postgres.main", "schema": schema, "table": "t", "create_if_missing": True},
    }
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "XDG_CACHE_HOME": str(venv_cache),
        "OSIRIS_TEST_PG_PASSWORD": SECRET,
    }
    runs = tmp_path / "runs"
    try:
        with mysql_source() as db:
            password = "${OSIRIS_TEST_PG_PASSWORD}"  # a secret, resolved from the environment
            pipeline = write_pipeline(tmp_path / "p", "sandbox-kill", db, writer, pg_password=password)
            cmd = osirisc("run", str(pipeline), "--target", "sandbox", "--reuse-venv")
            with (tmp_path / "host.log").open("wb") as log:
                host = subprocess.Popen([*cmd, "--runs-dir", str(runs)], env=env, stdout=log, stderr=log)
                try:
                    wait_event(runs, host, "step_start", "load")  # set-up done (venv built), the run is under way
                    (entry,) = children(host.pid)
                    assert "OSIRIS_SECRET_" in _environ(entry)  # what must not outlive the host
                    (work,) = temp.glob("osiris-sandbox-*")
                    host.send_signal(signal.SIGKILL)
                    host.wait(timeout=30)
                finally:
                    if host.poll() is None:
                        host.kill()
            wait_for("the entry point to end with its host", lambda: not alive(entry), timeout=60)
            assert work.exists() and list(temp.glob("osiris-bundle-*"))  # nobody was left to remove them
            assert not list(temp.glob("osiris-load-*"))
            again = subprocess.run(
                [*cmd, "--runs-dir", str(tmp_path / "runs2")], env=env, capture_output=True, check=False
            )
        assert again.returncode == 0, again.stderr.decode()
        assert not work.exists() and not list(temp.glob("osiris-sandbox-*"))
        assert not list(temp.glob("osiris-bundle-*"))  # the killed host's emitted bundle folder too
        for path in [*temp.rglob("*"), *runs.rglob("*"), *(tmp_path / "runs2").rglob("*")]:
            assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def test_sigterm_to_the_host_cancels_the_sandboxed_run_cleanly(tmp_path: Path, venv_cache: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg.connect(**PG, autocommit=True)
    conn.execute(f'CREATE SCHEMA "{schema}"')
    conn.execute(f'CREATE TABLE "{schema}".t (id int, label text, maybe int)')
    conn.execute(f"INSERT INTO \"{schema}\".t VALUES (1, 'kept', NULL)")
    writer = {
        "component": "postgres.writer",
        "config": {"connection": "@postgres.main", "schema": schema, "table": "t", "write_mode": "append"},
    }
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "XDG_CACHE_HOME": str(venv_cache)}
    runs = tmp_path / "runs"
    try:
        with mysql_source() as db, (tmp_path / "host.log").open("wb") as log:
            pipeline = write_pipeline(tmp_path / "p", "sandbox-term", db, writer)
            cmd = osirisc("run", str(pipeline), "--target", "sandbox", "--reuse-venv", "--runs-dir", str(runs))
            host = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
            try:
                wait_event(runs, host, "progress", "load")
                (entry,) = children(host.pid)
                host.send_signal(signal.SIGTERM)  # to the host only: it passes it on
                code = host.wait(timeout=120)
            finally:
                if host.poll() is None:
                    host.kill()
        output = (tmp_path / "host.log").read_text(encoding="utf-8")
        assert code == 143, output
        assert "run cancelled (received SIGTERM)" in output
        assert not alive(entry)
        (run_dir,) = run_dirs(runs)
        status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))  # the sandbox's, brought back
        assert status["state"] == "cancelled" and status["cancelled"]["signal"] == "SIGTERM"
        assert conn.execute(f'SELECT id, label FROM "{schema}".t').fetchall() == [(1, "kept")]
        assert not list(temp.iterdir())  # the sandbox folder is gone
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def test_killed_local_run_keeps_row_files_in_its_tmp_and_the_next_run_removes_them(tmp_path: Path) -> None:
    db = f"t_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(**MY, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cur.execute(f"CREATE TABLE `{db}`.t (id INT, label VARCHAR(120), maybe INT)")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    runs = tmp_path / "runs"
    writer = {"component": "mysql.writer", "config": {"connection": "@mysql.main", "schema": db, "table": "t"}}
    try:
        with mysql_source() as source:
            pipeline = write_pipeline(tmp_path / "p", "kill-local", source, writer)
            proc = subprocess.Popen(
                osirisc("run", str(pipeline), "--runs-dir", str(runs)),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_event(runs, proc, "step_start", "load")
                (killed,) = run_dirs(runs)
                wait_for("a LOAD DATA file", lambda: list((killed / "tmp").glob("osiris-load-*.tsv")), proc)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert not list(temp.glob("osiris-load-*"))  # nothing in the shared temp folder
            assert (killed / "tmp").exists()
            again = subprocess.run(
                osirisc("run", str(pipeline), "--runs-dir", str(runs)), env=env, capture_output=True, check=False
            )
        assert again.returncode == 0, again.stderr.decode()
        assert not (killed / "tmp").exists()
        status = json.loads((killed / "status.json").read_text(encoding="utf-8"))
        assert status["state"] == "interrupted" and status["ok"] is False
        assert not list(temp.glob("osiris-load-*")) and not list(runs.glob("*/*/tmp"))
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{db}`")
        conn.close()
