"""Incremental extraction on the real servers (docs/incremental.md): the high-water mark is kept with the data, in
the writer's transaction; only rows past it are read (the SERVER's answer is counted: the extractor's rows out and
the query it issued); late rows inside the lookback are caught and deduplicated by upsert; a failure before COMMIT
leaves rows and state as they were; ``osirisc state reset`` makes the next run read everything; the state holds no
secret. Small tables, batch size 3, so every run spans several batches.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest
from conftest import MY, PG

from osiris.cli import main
from osiris.runtime import incremental

pytestmark = pytest.mark.db

SECRET = "s3cret-Pw-incr"  # the connections' password: trust/empty auth ignores it; it must never be stored
T0 = dt.datetime(2024, 1, 1, 12, 0, 0)

CONNECTIONS = f"""\
connections:
  mysql:
    main:
      default: true
      host: {MY["host"]}
      port: {MY["port"]}
      database: test
      user: {MY["user"]}
      password: ""
  supabase:
    main:
      default: true
      host: {PG["host"]}
      port: {PG["port"]}
      database: {PG["dbname"]}
      user: {PG["user"]}
      password: {SECRET}
  postgres:
    main:
      default: true
      host: {PG["host"]}
      port: {PG["port"]}
      database: {PG["dbname"]}
      user: {PG["user"]}
      password: {SECRET}
"""


def write_pipeline(folder: Path, name: str, source: dict[str, Any], writer: dict[str, Any]) -> Path:
    (folder / "osiris_connections.yaml").write_text(CONNECTIONS, encoding="utf-8")
    steps = [
        {"id": "src", "mode": "read", **source},
        {"id": "load", "mode": "write", "needs": ["src"], **writer},
    ]
    path = folder / "pipeline.yaml"
    path.write_text(json.dumps({"oml_version": "0.1.0", "name": name, "steps": steps}), encoding="utf-8")
    return path


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """One in-process ``osirisc run``: exit code, status.json and the events of that run."""
    runs = path.parent / "runs"
    before = set(runs.rglob("status.json")) if runs.exists() else set()
    code = main(["run", str(path), "--runs-dir", str(runs), "--format", "json"])
    out = capsys.readouterr()
    found = set(runs.rglob("status.json")) - before if runs.exists() else set()
    assert len(found) == 1, (code, out.out, out.err)
    [status_file] = found
    events = [json.loads(line) for line in (status_file.parent / "events.jsonl").read_text().splitlines()]
    return code, json.loads(status_file.read_text()), events


def query_of(events: list[dict[str, Any]]) -> str:
    [event] = [e for e in events if e["event"] == "incremental"]
    return str(event["query"])


# ------------------------------------------------------------------------------------------------ sources
def my_exec(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(**MY, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return list(cur.fetchall())
    finally:
        conn.close()


def pg_exec(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(**PG, autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return list(cur.fetchall()) if cur.description else []


def my_rows(db: str, ids: range, minutes: list[int] | None = None) -> None:
    minutes = minutes if minutes is not None else list(ids)
    for i, m in zip(ids, minutes, strict=True):
        my_exec(f"INSERT INTO `{db}`.src VALUES (%s, %s, %s)", i, T0 + dt.timedelta(minutes=m), f"row {i}")


def pg_rows(schema: str, ids: range, minutes: list[int] | None = None) -> None:
    minutes = minutes if minutes is not None else list(ids)
    for i, m in zip(ids, minutes, strict=True):
        pg_exec(f'INSERT INTO "{schema}".src VALUES (%s, %s, %s)', i, T0 + dt.timedelta(minutes=m), f"row {i}")


def pg_state(schema: str) -> list[tuple[Any, ...]]:
    return pg_exec(f'SELECT step, mark, version, rows_read FROM "{schema}"._osirisc_state ORDER BY step')


# ------------------------------------------------------------------------------------------------ tests
def test_mysql_to_postgres_initial_then_only_new_rows_then_reset(
    tmp_path: Path, mysql_db: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    my_exec(f"CREATE TABLE `{mysql_db}`.src (id INT PRIMARY KEY, updated_at DATETIME(6), label VARCHAR(40))")
    my_rows(mysql_db, range(1, 11))
    path = write_pipeline(
        tmp_path,
        "inc-my-pg",
        {
            "component": "mysql.extractor",
            "config": {
                "connection": "@mysql.main",
                "schema": mysql_db,
                "table": "src",
                "batch_size": 3,
                "incremental": {"cursor_column": "updated_at", "tie_breaker": ["id"]},
            },
        },
        {
            "component": "postgres.writer",
            "config": {
                "connection": "@postgres.main",
                "schema": pg_schema,
                "table": "dst",
                "write_mode": "upsert",
                "primary_key": "id",
                "create_if_missing": True,
            },
        },
    )
    code, status, events = run(path, capsys)
    assert code == 0, status
    assert status["steps"]["src"]["rows_out"] == 10  # the first run reads everything
    assert "WHERE" not in query_of(events) and "ORDER BY `updated_at`, `id`" in query_of(events)
    assert pg_exec(f'SELECT count(*) FROM "{pg_schema}".dst') == [(10,)]
    [(step, mark, version, rows)] = pg_state(pg_schema)
    assert (step, json.loads(mark), version, rows) == (
        "src",
        {"type": "timestamp", "value": "2024-01-01T12:10:00"},
        1,
        10,
    )

    my_rows(mysql_db, range(11, 15))  # four new rows
    code, status, events = run(path, capsys)
    assert code == 0, status
    assert status["steps"]["src"]["rows_out"] == 4  # the server returned only the new rows
    assert "WHERE `updated_at` > TIMESTAMP '2024-01-01 12:10:00'" in query_of(events)
    assert pg_exec(f'SELECT count(*), max(id) FROM "{pg_schema}".dst') == [(14, 14)]
    assert [r[2] for r in pg_state(pg_schema)] == [2]

    code, status, _ = run(path, capsys)  # nothing new: nothing read, the mark stays, the version moves
    assert code == 0 and status["steps"]["src"]["rows_out"] == 0
    [(_, mark, version, rows)] = pg_state(pg_schema)
    assert json.loads(mark)["value"] == "2024-01-01T12:14:00" and version == 3 and rows == 0

    assert main(["state", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "updated_at > 2024-01-01T12:14:00 (timestamp); version 3" in shown
    assert main(["state", "reset", str(path), "src"]) == 0
    assert "state deleted" in capsys.readouterr().out
    assert pg_state(pg_schema) == []
    code, status, events = run(path, capsys)  # after a reset: everything again, deduplicated by the upsert
    assert code == 0 and status["steps"]["src"]["rows_out"] == 14
    assert "WHERE" not in query_of(events)
    assert pg_exec(f'SELECT count(*) FROM "{pg_schema}".dst') == [(14,)]


def test_late_rows_inside_the_lookback_are_caught_and_deduplicated(
    tmp_path: Path, mysql_db: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL source, MariaDB target (the state row in the MySQL writer's transaction)."""
    pg_exec(f'CREATE TABLE "{pg_schema}".src (id int PRIMARY KEY, updated_at timestamp, label text)')
    pg_rows(pg_schema, range(1, 21), [i * 10 for i in range(1, 21)])  # every 10 minutes up to 12:00 + 200 min
    path = write_pipeline(
        tmp_path,
        "inc-pg-my",
        {
            "component": "postgres.extractor",
            "config": {
                "connection": "@postgres.main",
                "schema": pg_schema,
                "table": "src",
                "batch_size": 3,
                "incremental": {"cursor_column": "updated_at", "lookback": "25m", "tie_breaker": ["id"]},
            },
        },
        {
            "component": "mysql.writer",
            "config": {
                "connection": "@mysql.main",
                "schema": mysql_db,
                "table": "dst",
                "write_mode": "upsert",
                "primary_key": "id",
                "create_if_missing": True,
            },
        },
    )
    code, status, _ = run(path, capsys)
    assert code == 0, status
    assert status["steps"]["src"]["rows_out"] == 20
    # rows that committed late: one inside the lookback (15 min below the mark), one outside it (45 min below)
    pg_rows(pg_schema, range(21, 23), [185, 155])
    pg_exec(f"UPDATE \"{pg_schema}\".src SET label = 'changed' WHERE id = 20")  # a re-read row's new version
    code, status, events = run(path, capsys)
    assert code == 0, status
    assert "WHERE \"updated_at\" > TIMESTAMP '2024-01-01 14:55:00'" in query_of(events)  # 15:20 - 25 min
    # rows above 14:55: ids 18 (15:00), 19 (15:10), 20 (15:20) again, and the late 21 (15:05); not 22 (14:35)
    assert status["steps"]["src"]["rows_out"] == 4
    assert my_exec(f"SELECT count(*), sum(id = 21), sum(id = 22) FROM `{mysql_db}`.dst") == [(21, 1, 0)]
    assert my_exec(f"SELECT label FROM `{mysql_db}`.dst WHERE id = 20") == [("changed",)]
    [(mark, version)] = my_exec(f"SELECT mark, version FROM `{mysql_db}`._osirisc_state")
    assert json.loads(mark)["value"] == "2024-01-01T15:20:00" and version == 2


@pytest.mark.parametrize("target", ["postgres", "duckdb"])
def test_failure_before_commit_leaves_rows_and_state_as_they_were(
    tmp_path: Path, pg_schema: str, target: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_exec(f'CREATE TABLE "{pg_schema}".src (id int PRIMARY KEY, updated_at timestamp, label text)')
    pg_rows(pg_schema, range(1, 8))
    writer: dict[str, Any] = {
        "postgres": {"component": "postgres.writer", "config": {"connection": "@postgres.main", "schema": pg_schema}},
        "duckdb": {"component": "duckdb.writer", "config": {"path": "out.duckdb"}},
    }[target]
    writer["config"].update({"table": "dst", "write_mode": "append", "create_if_missing": True})
    source = {
        "component": "postgres.extractor",
        "config": {
            "connection": "@postgres.main",
            "schema": pg_schema,
            "table": "src",
            "batch_size": 3,
            "incremental": {"cursor_column": "id"},
        },
    }
    path = write_pipeline(tmp_path, "inc-fail", source, writer)

    def count() -> int:
        if target == "postgres":
            return int(pg_exec(f'SELECT count(*) FROM "{pg_schema}".dst')[0][0])
        with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
            return int(con.execute("SELECT count(*) FROM dst").fetchone()[0])  # type: ignore[index]

    def state() -> tuple[Any, ...]:
        if target == "postgres":
            return tuple(pg_exec(f'SELECT mark, version FROM "{pg_schema}"._osirisc_state')[0])
        store = incremental.SqlStore("duckdb", "duckdb.writer", {"path": "out.duckdb"}, None, None, tmp_path)
        entry = store.entry("inc-fail", "src")
        assert entry is not None
        return (json.dumps(entry["mark"], sort_keys=True), entry["version"])

    assert run(path, capsys)[0] == 0
    assert count() == 7
    committed = state()
    pg_rows(pg_schema, range(8, 12))

    original = incremental.SqlStore.commit

    def commit_then_fail(self: Any, cur: Any, cursor: Any, mark: Any, executed: list[str]) -> None:
        original(self, cur, cursor, mark, executed)  # rows loaded, state row written: now the run dies
        raise RuntimeError("injected failure before COMMIT")

    monkeypatch.setattr(incremental.SqlStore, "commit", commit_then_fail)
    code, status, _ = run(path, capsys)
    assert code == 1 and "injected failure before COMMIT" in status["error"]
    assert status["steps"]["src"]["rows_out"] == 4  # read, loaded, rolled back
    assert count() == 7 and state() == committed
    monkeypatch.setattr(incremental.SqlStore, "commit", original)
    code, status, _ = run(path, capsys)  # the rerun picks up where the last COMMITTED run ended
    assert code == 0 and status["steps"]["src"]["rows_out"] == 4
    assert count() == 11  # appended once: no row lost, none doubled
    assert json.loads(state()[0]) == {"type": "int", "value": "11"} and state()[1] == committed[1] + 1


def test_csv_source_and_csv_target_keep_a_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "events.csv"
    src.write_text("id,at,label\n" + "".join(f"{i},2024-01-0{1 + i % 3} 10:00:0{i % 10},e{i}\n" for i in range(1, 9)))
    path = write_pipeline(
        tmp_path,
        "inc-csv",
        {
            "component": "filesystem.csv_extractor",
            "config": {"path": "events.csv", "batch_size": 2, "incremental": {"cursor_column": "id"}},
        },
        {"component": "filesystem.csv_writer", "config": {"path": "out/delta.csv"}},
    )
    code, status, _ = run(path, capsys)
    assert code == 0 and status["steps"]["src"]["rows_out"] == 8
    state_file = tmp_path / "out" / ("delta.csv" + incremental.FILE_SUFFIX)
    saved = json.loads(state_file.read_text())["states"]["inc-csv/src"]
    assert saved["mark"] == {"type": "int", "value": "8"} and saved["version"] == 1
    with src.open("a") as f:
        f.write("9,2024-01-05 10:00:00,e9\n10,2024-01-05 11:00:00,e10\n")
    code, status, _ = run(path, capsys)
    assert code == 0 and status["steps"]["src"]["rows_out"] == 2
    lines = (tmp_path / "out" / "delta.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["9", "10"]  # the file holds this run's new rows only
    assert json.loads(state_file.read_text())["states"]["inc-csv/src"]["version"] == 2
    changed = json.loads(path.read_text())
    changed["steps"][0]["config"]["incremental"]["cursor_column"] = "at"  # a mark of `id` means nothing for `at`
    path.write_text(json.dumps(changed), encoding="utf-8")
    code, status, _ = run(path, capsys)
    assert code == 1 and "is a mark of cursor column 'id', but this step's cursor is now 'at'" in status["error"]
    assert json.loads(state_file.read_text())["states"]["inc-csv/src"]["version"] == 2  # untouched
    assert main(["state", "show", str(path), "load"]) == 2  # a writer is not an incremental extractor
    assert "step 'load' is not an incremental extractor" in capsys.readouterr().err
    assert main(["state", "reset", str(path)]) == 0
    capsys.readouterr()
    assert not state_file.exists()
    code, status, _ = run(path, capsys)
    assert code == 0 and status["steps"]["src"]["rows_out"] == 10


def test_state_holds_no_secret(tmp_path: Path, pg_schema: str, capsys: pytest.CaptureFixture[str]) -> None:
    pg_exec(f'CREATE TABLE "{pg_schema}".src (id int PRIMARY KEY, label text)')
    pg_exec(f"INSERT INTO \"{pg_schema}\".src VALUES (1, 'a'), (2, 'b')")
    conn = {"connection": "@postgres.main", "schema": pg_schema}
    path = write_pipeline(
        tmp_path,
        "inc-secret",
        {"component": "postgres.extractor", "config": {**conn, "table": "src", "incremental": {"cursor_column": "id"}}},
        {
            "component": "postgres.writer",
            "config": {**conn, "table": "dst", "write_mode": "upsert", "primary_key": "id", "create_if_missing": True},
        },
    )
    code, status, _ = run(path, capsys)
    assert code == 0, status
    rows = pg_exec(f'SELECT row_to_json(s)::text FROM "{pg_schema}"._osirisc_state s')
    assert len(rows) == 1 and SECRET not in rows[0][0] and "password" not in rows[0][0]
    assert main(["state", "show", str(path), "--format", "json"]) == 0
    shown = capsys.readouterr().out
    assert SECRET not in shown and '"value": "2"' in shown
    for file in (tmp_path / "runs").rglob("*"):
        if file.is_file():
            assert SECRET not in file.read_text(errors="replace"), file


def test_two_overlapping_runs_cannot_both_advance_the_state(tmp_path: Path, pg_schema: str) -> None:
    """Two real ``osirisc run`` processes of one pipeline. The test holds the target's write lock until both runs
    have read the state and wait for it, so they overlap whatever the machine's load; then the first to commit
    advances the state and the other fails clearly, its rows rolled back (append: no row twice)."""
    pg_exec(f'CREATE TABLE "{pg_schema}".src (id int PRIMARY KEY, label text)')
    pg_exec(f"INSERT INTO \"{pg_schema}\".src SELECT i, 'row ' || i FROM generate_series(1, 25) i")
    conn = {"connection": "@postgres.main", "schema": pg_schema}
    path = write_pipeline(
        tmp_path,
        "inc-race",
        {
            "component": "postgres.extractor",
            "config": {**conn, "table": "src", "batch_size": 4, "incremental": {"cursor_column": "id"}},
        },
        {"component": "postgres.writer", "config": {**conn, "table": "dst", "write_mode": "append"}},
    )
    pg_exec(f'CREATE TABLE "{pg_schema}".dst (id int, label text)')
    name = f"osiris write {pg_schema}.dst"  # the writer's advisory lock (osiris/runtime/connectors/pgwrite.py)
    gate = psycopg.connect(**PG)
    try:
        [(key,)] = gate.execute("SELECT hashtextextended(%s, 0)", (name,)).fetchall()
        gate.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        argv = [sys.executable, "-m", "osiris.cli", "run", str(path), "--runs-dir", str(tmp_path / "runs")]
        procs = [
            subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND ((classid::bigint << 32) | objid::bigint) = (%s::bigint & x'ffffffffffffffff'::bigint)"
        )
        deadline = time.monotonic() + 120
        while pg_exec(waiting, key)[0][0] < 2:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "the two runs never both waited for the target"
            time.sleep(0.05)
        gate.rollback()  # let them go: both have read the state (version: none) before waiting
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        gate.close()
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], results
    loser = next(err for p, (_, err) in zip(procs, results, strict=True) if p.returncode == 1)
    assert "changed since this run started" in loser and "rolled back" in loser, loser
    assert pg_exec(f'SELECT count(*), count(DISTINCT id) FROM "{pg_schema}".dst') == [(25, 25)]
    [(_, mark, version, rows)] = pg_state(pg_schema)
    assert (json.loads(mark)["value"], version, rows) == ("25", 1, 25)


@pytest.mark.parametrize("component", ["supabase.extractor", "duckdb.extractor"])
def test_initial_and_end_values_bound_a_backfill(
    tmp_path: Path, pg_schema: str, component: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A date cursor from initial_value (inclusive) to end_value (exclusive); ``osirisc plan`` shows the predicate
    of the first and later runs, and with ``--against`` the exact one the next run uses."""
    if component == "supabase.extractor":
        pg_exec(f'CREATE TABLE "{pg_schema}".src (id int PRIMARY KEY, day date)')
        pg_exec(f"INSERT INTO \"{pg_schema}\".src SELECT i, DATE '2024-01-01' + i FROM generate_series(1, 12) i")
        config: dict[str, Any] = {"connection": "@supabase.main", "schema": pg_schema, "table": "src"}
    else:
        with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
            con.execute("CREATE TABLE src AS SELECT i AS id, DATE '2024-01-01' + i::int AS day FROM range(1, 13) t(i)")
        config = {"path": "src.duckdb", "table": "src"}
    config.update(batch_size=2, incremental={"cursor_column": "day", "initial_value": "2024-01-04",
                                             "end_value": "2024-01-10"})  # fmt: skip
    path = write_pipeline(
        tmp_path,
        "inc-bounded",
        {"component": component, "config": config},
        {
            "component": "duckdb.writer",
            "config": {"path": "out.duckdb", "table": "dst", "write_mode": "upsert", "primary_key": "id"},
        },
    )
    assert main(["plan", str(path), "-o", str(tmp_path / "build")]) == 0
    shown = capsys.readouterr().out
    assert "first run: WHERE \"day\" >= '2024-01-04' AND \"day\" < '2024-01-10'" in shown
    assert 'later runs: WHERE "day" > <mark> AND "day" < \'2024-01-10\'' in shown
    code, status, _ = run(path, capsys)
    assert code == 0, status
    assert status["steps"]["src"]["rows_out"] == 6  # days 4..9: ids 3..8
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        assert con.execute("SELECT min(id), max(id), count(*) FROM dst").fetchall() == [(3, 8, 6)]
    assert main(["plan", str(path), "--against", "-o", str(tmp_path / "build")]) in (0, 1)
    assert "this run: WHERE \"day\" > DATE '2024-01-09' AND \"day\" < '2024-01-10'" in capsys.readouterr().out
    code, status, _events = run(path, capsys)
    assert code == 0 and status["steps"]["src"]["rows_out"] == 0


def test_posthog_events_resume_from_the_committed_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """posthog.extractor (against the query API stand-in): the window starts at the mark minus
    lookback_window_minutes instead of initial_since; events re-read in the window are upserted by uuid."""
    from posthog_server import PostHog, PostHogServer

    key = "phx_IncrementalTestKey_0123456789"
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events AS SELECT 'u' || i AS uuid, 'view' AS event,"
        " TIMESTAMP '2024-03-01' + to_minutes(i * 2) AS timestamp, 'd' || i AS distinct_id, 'p' AS person_id,"
        " '{}' AS properties FROM range(20) t(i)"
    )  # every 2 minutes from 00:00 to 00:38
    server = PostHogServer(PostHog(con, key, "77"))
    monkeypatch.setenv("PH_KEY", key)
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  posthog:\n    main:\n      api_key: ${PH_KEY}\n      project_id: '77'\n"
        f"      region: self_hosted\n      custom_base_url: {server.url}\n",
        encoding="utf-8",
    )
    source = {
        "connection": "@posthog.main",
        "data_type": "events",
        "initial_since": "2024-03-01T00:00:00Z",
        "lookback_window_minutes": 5,
        "page_size": 100,
        "batch_size": 4,
        "retry_delay": 0.1,
        "incremental": {"cursor_column": "timestamp"},
    }
    steps = [
        {"id": "src", "component": "posthog.extractor", "mode": "read", "config": source},
        {"id": "load", "component": "duckdb.writer", "mode": "write", "needs": ["src"],
         "config": {"path": "out.duckdb", "table": "events", "write_mode": "upsert", "primary_key": "uuid"}},
    ]  # fmt: skip
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"oml_version": "0.1.0", "name": "inc-ph", "steps": steps}), encoding="utf-8")
    try:
        code, status, events = run(path, capsys)
        assert code == 0, status
        assert status["steps"]["src"]["rows_out"] == 20
        assert "timestamp >= toDateTime64('2024-02-29 23:55:00" in query_of(events)  # initial_since - 5 min
        con.execute(
            "INSERT INTO events VALUES ('late', 'view', TIMESTAMP '2024-03-01 00:35:00', 'dl', 'p', '{}'),"
            " ('new', 'view', TIMESTAMP '2024-03-01 00:50:00', 'dn', 'p', '{}')"
        )
        code, status, events = run(path, capsys)
        assert code == 0, status
        assert "timestamp >= toDateTime64('2024-03-01 00:33:00" in query_of(events)  # the mark 00:38 - 5 min
        assert status["steps"]["src"]["rows_out"] == 5  # 00:34, 00:35 (late), 00:36, 00:38 again, and 00:50
    finally:
        server.close()
        con.close()
    with duckdb.connect(str(tmp_path / "out.duckdb")) as out:
        assert out.execute("SELECT count(*), count(DISTINCT uuid) FROM events").fetchall() == [(22, 22)]
        [(mark,)] = out.execute("SELECT mark FROM _osirisc_state").fetchall()
    assert json.loads(mark)["value"].startswith("2024-03-01T00:50:00")
    assert main(["check", str(path)]) == 0
    capsys.readouterr()
    assert main(["plan", str(path), "--format", "json", "-o", str(tmp_path / "plan")]) == 0
    [shown] = json.loads(capsys.readouterr().out)["writers"][0]["incremental"]  # HogQL (its spec's dialect): a window
    assert shown["next_runs"] == "timestamp >= <mark> - lookback_window_minutes AND timestamp < now"
    steps[1]["config"]["write_mode"] = "append"  # the window always reaches back: append would double rows
    path.write_text(json.dumps({"oml_version": "0.1.0", "name": "inc-ph", "steps": steps}), encoding="utf-8")
    assert main(["check", str(path)]) == 2
    assert "OSR-E253" in capsys.readouterr().err


def test_two_overlapping_runs_into_mariadb_after_a_committed_run(tmp_path: Path, pg_schema: str, mysql_db: str) -> None:
    """The same race into a MariaDB target whose state row already exists: both runs read version 1, the first to
    commit moves it to 2, the other's ``UPDATE ... WHERE version = 1`` finds no row and it rolls back."""
    from osiris.runtime.connectors.mysqlwrite import lock_name

    pg_exec(f'CREATE TABLE "{pg_schema}".src (id int PRIMARY KEY, label text)')
    pg_exec(f"INSERT INTO \"{pg_schema}\".src SELECT i, 'row ' || i FROM generate_series(1, 10) i")
    path = write_pipeline(
        tmp_path,
        "inc-race-my",
        {
            "component": "postgres.extractor",
            "config": {"connection": "@postgres.main", "schema": pg_schema, "table": "src", "batch_size": 3,
                       "incremental": {"cursor_column": "id"}},
        },
        {"component": "mysql.writer", "config": {"connection": "@mysql.main", "schema": mysql_db, "table": "dst",
                                                 "write_mode": "append", "create_if_missing": True}},
    )  # fmt: skip
    argv = [sys.executable, "-m", "osiris.cli", "run", str(path), "--runs-dir", str(tmp_path / "runs")]
    assert subprocess.run(argv, cwd=tmp_path, capture_output=True, check=False).returncode == 0
    pg_exec(f"INSERT INTO \"{pg_schema}\".src SELECT i, 'row ' || i FROM generate_series(11, 16) i")
    gate = pymysql.connect(**MY, autocommit=True)
    try:
        with gate.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (lock_name(mysql_db, "dst"),))
            assert cur.fetchone() == (1,)
        procs = [
            subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        deadline = time.monotonic() + 120
        waiting = "SELECT count(*) FROM information_schema.processlist WHERE info LIKE %s AND id <> CONNECTION_ID()"
        while my_exec(waiting, f"SELECT GET_LOCK('{lock_name(mysql_db, 'dst')}', %")[0][0] < 2:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "the two runs never both waited for the target"
            time.sleep(0.05)
        with gate.cursor() as cur:
            cur.execute("SELECT RELEASE_LOCK(%s)", (lock_name(mysql_db, "dst"),))
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        gate.close()
    assert sorted(p.returncode for p in procs) == [0, 1], results
    loser = next(err for p, (_, err) in zip(procs, results, strict=True) if p.returncode == 1)
    assert "changed since this run started" in loser, loser
    assert my_exec(f"SELECT count(*), count(DISTINCT id) FROM `{mysql_db}`.dst") == [(16, 16)]
    [(mark, version, rows)] = my_exec(f"SELECT mark, version, rows_read FROM `{mysql_db}`._osirisc_state")
    assert (json.loads(mark)["value"], version, rows) == ("16", 2, 6)
