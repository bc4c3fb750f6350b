"""A closed stdout/stderr (issue #13.2): `osirisc run P 2>&1 | head -1` used to hang for ever (an exception while
emitting an event in a step thread deadlocked the scheduler) and `2>&-` exited 3. Each case runs a real
``osirisc run`` and must end within a bound with a valid run record; a pipe closed mid-run is SIGPIPE: the run
is cancelled cleanly (exit 141)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import duckdb
import pytest
from live_runs import mysql_source, osirisc, run_dirs, write_pipeline

BOUND_S = 120


def _status(runs: Path) -> dict:
    (run_dir,) = run_dirs(runs)
    return json.loads((run_dir / "status.json").read_text(encoding="utf-8"))


def _table_rows(path: Path) -> int | None:
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'").fetchone()[0]:
            return None
        return int(con.execute("SELECT count(*) FROM t").fetchone()[0])


@pytest.mark.db
@pytest.mark.slow
def test_pipe_closed_after_the_first_line_cancels_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "target.duckdb"
    writer = {"component": "duckdb.writer", "config": {"path": str(target), "table": "t"}}
    runs = tmp_path / "runs"
    with mysql_source() as db:
        pipeline = write_pipeline(tmp_path / "p", "head-one", db, writer)
        # `2>&1 | head -1`: one pipe for both streams, its reader goes away after the first line
        proc = subprocess.Popen(
            osirisc("run", str(pipeline), "--runs-dir", str(runs)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            proc.stdout.close()
            code = proc.wait(timeout=BOUND_S)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert first.startswith(b"run ")
    assert code == 128 + signal.SIGPIPE
    status = _status(runs)
    assert status["state"] == "cancelled" and status["ok"] is False
    assert status["cancelled"]["signal"] == "SIGPIPE"
    assert status["cancelled"]["reason"] == "output closed (BrokenPipeError)"
    load = status["steps"]["load"]
    if load["status"] == "ok":  # it had committed before the first write after the close
        assert _table_rows(target) == 400_000
    else:
        assert load["status"] in ("cancelled", "skipped") and _table_rows(target) is None


CSV_ROWS = 20_000


@pytest.mark.slow
@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_closed_standard_streams_run_normally(tmp_path: Path, closed: str, fmt: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,label\n" + "".join(f'{i},"v\\{i} ""q"" NULL \t"\n' for i in range(CSV_ROWS)), encoding="utf-8")
    doc = {
        "oml_version": "0.1.0",
        "name": "closed",
        "steps": [
            {"id": "read", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": str(src)}},
            {
                "id": "load",
                "component": "duckdb.writer",
                "mode": "write",
                "needs": ["read"],
                "config": {"path": str(tmp_path / "t.duckdb"), "table": "t"},
            },
        ],
    }
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(json.dumps(doc), encoding="utf-8")
    runs = tmp_path / "runs"
    cmd = " ".join(f"'{a}'" for a in osirisc("run", str(pipeline), "--runs-dir", str(runs), "--format", fmt))
    proc = subprocess.run(["sh", "-c", f"exec {cmd} {closed}"], capture_output=True, timeout=BOUND_S, check=False)
    assert proc.returncode == 0, proc.stderr
    if "2>&-" not in closed:
        assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
    status = _status(runs)
    assert status["ok"] is True and status["state"] == "finished"
    assert status["steps"]["load"]["rows_written"] == CSV_ROWS
    assert _table_rows(tmp_path / "t.duckdb") == CSV_ROWS
    events = (run_dirs(runs)[0] / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["event"] for line in events][-1] == "run_complete"
