"""Two real ``osirisc run`` processes writing one target at once run one after the other: no doubled rows, no
colliding CREATE TABLE, no corrupt DuckDB file. A target held by anything else fails clearly after
``lock_timeout`` and is left as it was.

To make the two runs overlap whatever the machine's load, the test first holds the target itself (a table lock,
an uncommitted CREATE TABLE, or the DuckDB file), waits until both runs are blocked on it, then lets go.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from writer_data import text

pytestmark = [pytest.mark.db, pytest.mark.slow]

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
ROWS = 200_000
PATIENCE = 240  # seconds: generous, the machine is shared
DIGEST = hashlib.md5("|".join(text(i) or "<null>" for i in range(ROWS)).encode()).hexdigest()


def pipeline(tmp_path: Path, writer: str, config: dict[str, Any]) -> Path:
    data = tmp_path / "rows.csv"
    if not data.exists():
        with data.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["id", "s"])
            out.writerows((i, text(i)) for i in range(ROWS))
    steps = [
        {"id": "read", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "rows.csv"}},
        {"id": "write", "component": writer, "mode": "write", "needs": ["read"], "config": config},
    ]
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"oml_version": "0.1.0", "name": "conc", "steps": steps}), encoding="utf-8")
    return path


def start(path: Path, runs: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "osiris.cli", "run", str(path), "--runs-dir", str(runs), "--format", "json"]
    return subprocess.Popen(argv, cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    try:
        out, err = proc.communicate(timeout=PATIENCE)
    except subprocess.TimeoutExpired:
        proc.kill()  # a run waiting forever (what a held target did before lock_timeout) must not outlive the test
        proc.communicate()
        raise
    return proc.returncode, json.loads(out) if out.strip() else {}, err


def wait_until(condition: Callable[[], bool], procs: list[subprocess.Popen[str]], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if any(p.poll() is not None for p in procs):
            return  # a run ended early (the old behaviour): the assertions on the results tell what happened
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def counts(results: list[tuple[int, dict[str, Any], str]]) -> str:
    """Each run's exit code and row counters, for an assertion message: a wrong ``rows_in`` then also tells
    whether the reader produced fewer rows and what reached the writer (with the target's contents)."""
    steps = [status.get("steps", {}) for _, status, _ in results]
    return "; ".join(
        f"run {n}: exit {code}, read rows_out {s.get('read', {}).get('rows_out')}, write rows_in "
        f"{s.get('write', {}).get('rows_in')} rows_written {s.get('write', {}).get('rows_written')}"
        for n, ((code, _, _), s) in enumerate(zip(results, steps, strict=True), 1)
    )


def contents(query: Callable[[], object]) -> object:
    """The target's row counts for an assertion message, or why they could not be read (a failed run)."""
    try:
        return query()
    except Exception as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"


def ddl_record(runs: Path) -> str:
    [run] = list((runs / "conc").iterdir())
    return (run / "ddl" / "write.sql").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------ PostgreSQL
def pg(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(**PG, autocommit=True) as conn:
        cur = conn.execute(sql, args)
        return cur.fetchall() if cur.description else []


def pg_config(schema: str, mode: str, **extra: Any) -> dict[str, Any]:
    key = {"primary_key": "id"} if mode != "append" else {}  # appending twice to a keyed table would be refused
    return {"host": "127.0.0.1", "database": "test", "user": "postgres", "schema": schema, "table": "t",
            "write_mode": mode, "create_if_missing": True, **key, **extra}  # fmt: skip


def blocked_on(schema: str) -> int:
    """Sessions waiting for a lock while running a statement that names the test's schema."""
    return int(
        pg(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            f"%{schema}%",
        )[0][0]
    )


CASES = {
    # mode, table exists (without a primary key) before the runs, rows after both runs
    "replace existing table without PK": ("replace", True, ROWS),
    "replace first-time create": ("replace", False, ROWS),
    "append first-time create": ("append", False, 2 * ROWS),
    "append existing table": ("append", True, 2 * ROWS),
}


@pytest.mark.parametrize("case", CASES)
def test_two_runs_into_one_postgres_table(pg_schema: str, tmp_path: Path, case: str) -> None:
    mode, exists, expected = CASES[case]
    table = f'"{pg_schema}".t'
    if exists:
        pg(f"CREATE TABLE {table} (id BIGINT, s TEXT)")
        pg(f"INSERT INTO {table} SELECT g, 'old' FROM generate_series(-1000, -1) g")
    path = pipeline(tmp_path, "postgres.writer", pg_config(pg_schema, mode, lock_timeout=PATIENCE))
    gate = psycopg.connect(**PG)  # holds the target until both runs wait for it
    gate.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE" if exists else f"CREATE TABLE {table} (id BIGINT)")
    procs = [start(path, tmp_path / "runs1"), start(path, tmp_path / "runs2")]
    try:
        wait_until(lambda: blocked_on(pg_schema) == 2, procs, "both runs to wait for the target")
    finally:
        gate.rollback()
        gate.close()
    results = [finish(p) for p in procs]
    new = f"{table} WHERE s IS DISTINCT FROM 'old'"
    seen = f"{counts(results)}; table: {contents(lambda: pg(f'SELECT count(*), count(DISTINCT id) FROM {new}'))}"
    seen += f"; run records under {tmp_path}"
    for code, status, err in results:
        assert code == 0, (err, status.get("error"), seen)
        assert status["steps"]["write"]["rows_in"] == ROWS, seen
    assert pg(f"SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {new}") == [(expected, ROWS, 0, ROWS - 1)]
    assert pg(f"SELECT max(n) FROM (SELECT count(*) AS n FROM {new} GROUP BY id) c") == [(expected // ROWS,)]
    assert pg(f"SELECT count(*) FROM {table} WHERE s = 'old'") == [(1000 if exists and mode == "append" else 0,)]
    each = f"SELECT DISTINCT ON (id) id, s FROM {new} ORDER BY id"
    assert pg(f"SELECT md5(string_agg(coalesce(s, '<null>'), '|' ORDER BY id)) FROM ({each}) e") == [(DIGEST,)]
    for runs in ("runs1", "runs2"):
        record = ddl_record(tmp_path / runs)
        assert record.startswith("SET LOCAL lock_timeout = '240000ms';\nSELECT pg_try_advisory_xact_lock(")
        assert record.endswith("COMMIT;\n") and "hashtextextended('osiris write " + pg_schema + ".t', 0)" in record


def test_locked_postgres_table_fails_clearly_after_lock_timeout(pg_schema: str, tmp_path: Path) -> None:
    table = f'"{pg_schema}".t'
    pg(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, s TEXT)")
    pg(f"INSERT INTO {table} SELECT g, 'old ' || g FROM generate_series(1, 1000) g")
    before = pg(f"SELECT count(*), md5(string_agg(id || s, ',' ORDER BY id)) FROM {table}")
    path = pipeline(tmp_path, "postgres.writer", pg_config(pg_schema, "replace", lock_timeout=2))
    holder = psycopg.connect(**PG)  # another session (not a run) keeps the table locked
    holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    try:
        code, status, err = finish(start(path, tmp_path / "runs"))
        still_held = pg("SELECT count(*) FROM pg_locks WHERE relation = to_regclass(%s) AND granted", table)
    finally:
        holder.rollback()
        holder.close()
    assert code == 1, err
    assert f"another session holds a lock on {pg_schema}.t (waited 2 s for its lock)" in status["error"]
    assert 2_000 <= status["steps"]["write"]["duration_ms"] < 2_000 + 1000 * PATIENCE // 4
    assert still_held == [(1,)]
    assert pg(f"SELECT count(*), md5(string_agg(id || s, ',' ORDER BY id)) FROM {table}") == before
    # the first statement that needs the table (the replace's probe whether it is empty) is the one that waited
    assert ddl_record(tmp_path / "runs").endswith(f'SELECT NOT EXISTS (SELECT 1 FROM "{pg_schema}"."t");\nROLLBACK;\n')


def test_target_another_run_writes_fails_clearly_after_lock_timeout(pg_schema: str, tmp_path: Path) -> None:
    table = f'"{pg_schema}".t'
    pg(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, s TEXT)")
    path = pipeline(tmp_path, "postgres.writer", pg_config(pg_schema, "append", lock_timeout=2))
    from osiris.runtime.connectors import pgwrite

    plan = {"target": {"schema": pg_schema, "table": "t"}}
    run = psycopg.connect(**PG)  # what a run writing the table holds
    run.execute(f"SELECT pg_advisory_xact_lock({pgwrite.lock_key(plan, pg_schema)})")
    try:
        code, status, err = finish(start(path, tmp_path / "runs"))
    finally:
        run.rollback()
        run.close()
    assert code == 1, err
    assert f"another run is writing {pg_schema}.t (waited 2 s for its lock)" in status["error"]
    assert pg(f"SELECT count(*) FROM {table}") == [(0,)]


# ------------------------------------------------------------------------------------------------ DuckDB
def duck_config(mode: str, **extra: Any) -> dict[str, Any]:
    key = {"primary_key": "id"} if mode != "append" else {}
    return {"path": "target.duckdb", "table": "t", "write_mode": mode, **key, **extra}


def waiting_for_file(runs: Path) -> bool:
    events = list(runs.glob("conc/*/events.jsonl"))
    return bool(events) and "holds target.duckdb; waiting" in events[0].read_text(encoding="utf-8")


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_two_runs_into_one_duckdb_file(tmp_path: Path, mode: str) -> None:
    path = pipeline(tmp_path, "duckdb.writer", duck_config(mode, lock_timeout=PATIENCE))
    gate = duckdb.connect(str(tmp_path / "target.duckdb"))  # this process holds the file until both runs wait
    procs = [start(path, tmp_path / "runs1"), start(path, tmp_path / "runs2")]
    try:
        wait_until(
            lambda: waiting_for_file(tmp_path / "runs1") and waiting_for_file(tmp_path / "runs2"),
            procs,
            "both runs to wait for the DuckDB file",
        )
    finally:
        gate.close()
    results = [finish(p) for p in procs]
    expected = ROWS if mode == "replace" else 2 * ROWS

    def read() -> list[tuple[Any, ...]]:
        with duckdb.connect(str(tmp_path / "target.duckdb"), read_only=True) as con:
            return con.execute("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM t").fetchall()

    seen = f"{counts(results)}; table: {contents(read)}; run records under {tmp_path}"
    for code, status, err in results:
        assert code == 0, (err, status.get("error"), seen)
        assert status["steps"]["write"]["rows_in"] == ROWS, seen
    assert read() == [(expected, ROWS, 0, ROWS - 1)]


def test_held_duckdb_file_fails_clearly_after_lock_timeout(tmp_path: Path) -> None:
    target = tmp_path / "target.duckdb"
    with duckdb.connect(str(target)) as con:
        con.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, s VARCHAR)")
        con.execute("INSERT INTO t SELECT range, 'old' FROM range(1000)")
    path = pipeline(tmp_path, "duckdb.writer", duck_config("replace", lock_timeout=2))
    holder = duckdb.connect(str(target))
    try:
        code, status, err = finish(start(path, tmp_path / "runs"))
    finally:
        holder.close()
    assert code == 1, err
    assert "holds target.duckdb, so main.t cannot be written (waited 2 s for its lock)" in status["error"]
    assert 2_000 <= status["steps"]["write"]["duration_ms"] < 2_000 + 1000 * PATIENCE // 4
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*), min(s), max(s) FROM t").fetchall() == [(1000, "old", "old")]
