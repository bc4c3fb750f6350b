"""Two `osirisc run` processes writing one MariaDB table never interleave: the second waits for the first's named
lock (database + table), and gives up after `lock_timeout` with a clear message; a row or table lock held by
some other session ends the write after `lock_timeout` too, the target unchanged."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pymysql
import pytest

from osiris import dialects
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.runtime.connectors import mysqlwrite
from osiris.runtime.driver import StepContext, StepError

MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
ROOT = Path(__file__).resolve().parents[2]
WAIT = 300  # seconds: generous, the machine is shared and slow; conditions are polled, never slept on
pytestmark = pytest.mark.db


def _conn(db: str) -> Any:
    return pymysql.connect(**MY, database=db, autocommit=True, charset="utf8mb4")


def _scalar(conn: Any, sql: str, *args: Any) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
        return row[0] if row else None


def _poll(what: str, condition: Callable[[], bool], procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"waiting for {what}: a run ended early ({proc.returncode}): {out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


PIPELINE = """oml_version: "0.1.0"
name: {name}
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config:
      path: {name}.csv
  - id: write
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.test"
      table: t
      write_mode: truncate
      lock_timeout: {timeout}
"""


@pytest.fixture
def project(mysql_db: str, tmp_path: Path) -> Iterator[Path]:
    """A folder with the connection file; table t has a trigger that waits for the test's 'gate' lock."""
    (tmp_path / "osiris_connections.yaml").write_text(
        f"connections:\n  mysql:\n    test:\n      host: 127.0.0.1\n      port: 3306\n      database: {mysql_db}\n"
        "      user: root\n      password: ''\n",
        encoding="utf-8",
    )
    with _conn(mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v VARCHAR(20))")
        cur.execute("INSERT INTO t VALUES (0, 'before')")
        cur.execute(
            f"CREATE TRIGGER gate BEFORE INSERT ON t FOR EACH ROW "
            f"SET NEW.v = IF(GET_LOCK('{mysql_db}.gate', {WAIT}) = 1, NEW.v, NEW.v)"
        )
    yield tmp_path


def _start(project: Path, name: str, rows: range, timeout: int) -> subprocess.Popen[str]:
    (project / f"{name}.csv").write_text("id,v\n" + "".join(f"{i},{name}\n" for i in rows), encoding="utf-8")
    (project / f"{name}.yaml").write_text(PIPELINE.format(name=name, timeout=timeout), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "osiris.cli",
        "run",
        str(project / f"{name}.yaml"),
        "--runs-dir",
        str(project / "runs"),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=WAIT)
    return proc.returncode, out + err


@pytest.mark.slow
def test_concurrent_runs_on_one_table_take_turns(mysql_db: str, project: Path) -> None:
    gate = _conn(mysql_db)
    assert _scalar(gate, "SELECT GET_LOCK(%s, 0)", f"{mysql_db}.gate") == 1
    watcher = _conn(mysql_db)
    writer_lock = mysqlwrite.lock_name(mysql_db, "t")
    first = _start(project, "first", range(1, 501), WAIT)
    procs = [first]
    try:
        # the first run holds the table's lock while its load waits at the gate
        locked = "SELECT IS_USED_LOCK(%s) IS NOT NULL"
        _poll("the first run to lock the table", lambda: _scalar(watcher, locked, writer_lock) == 1, procs)
        impatient = _start(project, "impatient", range(1000, 1010), 2)
        code, output = _finish(impatient)
        assert code != 0
        assert f"another run is writing {mysql_db}.t (waited 2 s for its lock)" in output, output
        second = _start(project, "second", range(2000, 2300), WAIT)
        procs.append(second)
        waiting = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User lock' AND INFO LIKE %s"
        _poll("the second run to wait for the lock", lambda: _scalar(watcher, waiting, f"%{writer_lock}%") == 1, procs)
        assert _scalar(watcher, "SELECT COUNT(*) FROM t") == 1  # nothing has moved yet
        gate.close()  # open the gate: the first run loads and commits, then the second takes its turn
        for proc in procs:
            code, output = _finish(proc)
            assert code == 0, output
        with watcher.cursor() as cur:
            cur.execute("SELECT id, v FROM t ORDER BY id")
            assert cur.fetchall() == tuple((i, "second") for i in range(2000, 2300))  # truncate, one after the other
        ddl = sorted((project / "runs").glob("*/*/ddl/write.sql"))
        assert len(ddl) == 3  # the run that gave up records what it ran too
        first, impatient_ddl, second_ddl = (
            next(p.read_text(encoding="utf-8") for p in ddl if f"/{n}/" in str(p))
            for n in ("first", "impatient", "second")
        )
        assert "DELETE FROM `" in first and "LOAD DATA LOCAL INFILE" in first and first.endswith("COMMIT;\n")
        assert impatient_ddl.endswith(f"SELECT GET_LOCK('{writer_lock}', 2);\nROLLBACK;\n"), impatient_ddl
        assert "DELETE FROM `" not in impatient_ddl
        assert f"SELECT GET_LOCK('{writer_lock}', {WAIT})" in second_ddl
        events = (project / "runs").glob("second/*/events.jsonl")
        assert "another run is writing" in next(events).read_text(encoding="utf-8")  # it said why it waited
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        watcher.close()
        if gate.open:
            gate.close()


def _batches(rows: range) -> pa.RecordBatchReader:
    table = pa.table({"id": pa.array(list(rows), pa.int64()), "v": [str(i) for i in rows]})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


@pytest.mark.parametrize(
    "hold",
    [
        pytest.param(["START TRANSACTION", "SELECT * FROM t WHERE id = 0 FOR UPDATE"], id="row-lock"),
        pytest.param(["LOCK TABLES t WRITE"], id="table-lock"),
    ],
)
def test_a_table_locked_by_another_session_fails_after_lock_timeout(
    mysql_db: str, project: Path, hold: list[str]
) -> None:
    other = _conn(mysql_db)
    with other.cursor() as cur:
        cur.execute("DROP TRIGGER gate")
        for sql in hold:
            cur.execute(sql)
    plan = dialects.plan_write("mysql", {"schema": mysql_db, "table": "t"}, "truncate", [
        {"name": "id", "type": "int64", "nullable": False}, {"name": "v", "type": "string"}])  # fmt: skip
    ctx = StepContext("w", {"lock_timeout": 2}, {**MY, "database": mysql_db}, project, project)
    started = time.monotonic()
    try:
        with pytest.raises(StepError) as err:
            MySQLWriter({"write": plan}, ctx).run({"in": _batches(range(1, 100))})
        waited = time.monotonic() - started
    finally:
        other.close()
    assert f"another session holds a lock on {mysql_db}.t (waited 2 s for its lock)" in str(err.value)
    assert 2 <= waited < WAIT
    with _conn(mysql_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, v FROM t")
        assert cur.fetchall() == ((0, "before"),)
