"""The run record on a full disk (issue #12.4): a writer committed, then the runs folder ran out of space. The
step used to be reported FAILED (exit 3, no status.json), so an append rerun duplicated the data. Now record
writes never fail a step: the run says "data committed; run record could not be written", exits 4, and
status.json is still written from the space reserved at the start."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PG
from live_runs import ROWS, mysql_source, osirisc, run_dirs, wait_for, write_pipeline

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (a real file system that really fills up), unmounted afterwards."""
    mount = tmp_path / "runs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:  # CI runs as root on this machine and can mount: there a failure, never a skip
        why = f"cannot mount a tmpfs here: {done.stderr.decode().strip()}"
        if os.environ.get("CI") or os.environ.get("OSIRIS_REQUIRE_DB"):
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 4096)
    with pytest.raises(OSError) as info:
        (folder / "probe").write_bytes(b"x" * 8192)
    assert info.value.errno == errno.ENOSPC


def _copying(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute(
        "SELECT tuples_processed FROM pg_stat_progress_copy WHERE relid = %s::regclass", (f'"{schema}".t',)
    ).fetchone()
    return bool(row and row[0] > 0)


def test_committed_data_is_reported_as_committed_when_the_record_cannot_be_written(
    tmp_path: Path, small_disk: Path
) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg.connect(**PG, autocommit=True)
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        conn.execute(f'CREATE TABLE "{schema}".t (id int, label text, maybe int)')
        writer = {
            "component": "postgres.writer",
            "config": {"connection": "@postgres.main", "schema": schema, "table": "t", "write_mode": "append"},
        }
        with mysql_source() as db, (tmp_path / "out.log").open("wb") as log:
            pipeline = write_pipeline(tmp_path / "p", "full-disk", db, writer)
            proc = subprocess.Popen(
                osirisc("run", str(pipeline), "--runs-dir", str(small_disk)), stdout=log, stderr=log
            )
            try:
                # the COPY is under way (seen by the server), so the run record has started
                wait_for("the COPY to start", lambda: _copying(conn, schema), proc)
                _fill(small_disk)
                code = proc.wait(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
        output = (tmp_path / "out.log").read_text(encoding="utf-8")
        loaded = conn.execute(f'SELECT count(*), count(DISTINCT id) FROM "{schema}".t').fetchone()
        assert loaded == (ROWS, ROWS)  # committed once
        assert code == 4, output
        assert "osirisc run: data committed by step(s) load; run record could not be written: " in output
        assert "No space left on device" in output and "internal error" not in output
        (run_dir,) = run_dirs(small_disk)
        status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))  # from the reserved space
        assert status["ok"] is True and status["steps"]["load"]["status"] == "ok"
        assert status["record_errors"] and all("No space left on device" in e for e in status["record_errors"])
        assert not (run_dir / "tmp").exists()
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()
