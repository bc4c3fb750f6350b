"""The server-formatted MySQL -> CSV export (passes/plan_exports.py, connectors/mysqlexport.py): the file it
writes is byte for byte the Arrow path's (``OSIRIS_EXPORT=off``) for every supported type and writer option; every
reason not to fuse, or to fall back at run start, takes the Arrow path; a failure mid-export leaves the old file;
the plan shows the choice; no secret reaches the plan, the run folder or the client's command line."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from conftest import MY, _unavailable
from live_runs import alive, children, wait_for

from osiris.components.filesystem_csv_writer.driver import HANDOFF_MESSAGE
from osiris.components.mysql_extractor.driver import OFFER_MESSAGE
from osiris.runtime.connectors import mysqlcli

ROOT = Path(__file__).resolve().parents[2]
OSIRISC = [sys.executable, "-m", "osiris.cli"]

AWKWARD_TABLE = """CREATE TABLE awk (
  id INT NOT NULL PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, i INT, bi BIGINT, bu BIGINT UNSIGNED,
  y YEAR, d0 DECIMAL(10,0), d2 DECIMAL(12,2) NOT NULL DEFAULT 0, d6 DECIMAL(20,6), d10 DECIMAL(38,10),
  d65 DECIMAL(65,30), s VARCHAR(100), t TEXT, lt LONGTEXT, c CHAR(3), l VARCHAR(10) CHARACTER SET latin1,
  e ENUM('a','NULL'), st SET('x','y'), vb VARBINARY(20), bl BLOB, dt DATE, dtm DATETIME, dt3 DATETIME(3),
  dt6 DATETIME(6), ts TIMESTAMP NULL, ts2 TIMESTAMP(2) NULL, nn VARCHAR(20) NOT NULL
) CHARACTER SET utf8mb4"""
ROWS: list[tuple[Any, ...]] = [
    (1, -128, 65535, -8388608, -2147483648, -9223372036854775808, 18446744073709551615, 1901, -9999999999,
     "-9999999999.99", "12345678901234.123456", "1234567890123456789012345678.0123456789",
     "0.000000000000000000000000000001", "tab\there", "nl\nx", "lone\rcr", 'a"b', "caf\u00e9", "NULL", "x,y",
     b"\x00\xff\\N", b"", "1000-01-01", "1000-01-01 00:00:00", "2020-01-01 00:00:00.5",
     "9999-12-31 23:59:59.999999", "1970-01-01 00:00:01", "2038-01-19 03:14:07.99", ""),
    (2, 127, 0, 8388607, 2147483647, 9223372036854775807, 0, 2155, 0, "0", "-0.000001", "-0.0000000001",
     "-12345678901234567890123456789012345.123456789012345678901234567890", "crlf\r\nend", "\\N", "NULL", "",
     None, "a", "", None, None, "9999-12-31", "0000-00-00 00:00:00", None, "0000-01-01 00:00:00.000001",
     "0000-00-00 00:00:00", None, "\\N"),
    (3, None, None, None, None, None, None, 0, None, "1.5", None, None, None, None, None, None, None, None, None,
     None, None, None, "0000-00-00", None, None, None, None, None, "\\"),
    (4, 0, 1, 2, 3, 4, 5, None, 5, "6.5", "7", "8", "9", 'emoji \U0001f600 "q" \\ back,;', "a\tb\nc\r\nd\re\r",
     "\r\n", "xyz", "", None, "x,y", b"\xde\xad\xbe\xef", b"\n\r\"", "2024-02-29", "2024-02-29 12:34:56",
     "2024-02-29 12:34:56.001", "2024-02-29 12:34:56.000001", "2024-02-29 12:34:56", "2024-02-29 12:34:56.10",
     ",;\t|"),
]  # fmt: skip


def _connect(db: str | None = None) -> Any:
    return pymysql.connect(**{**MY, "database": db}, autocommit=True, charset="utf8mb4", connect_timeout=5)


@pytest.fixture
def db() -> Iterator[str]:
    """A fresh database ``mcsv_<hex>`` holding the awkward table ``awk`` (zero dates need a permissive sql_mode)."""
    try:
        conn = _connect()
    except Exception as exc:
        _unavailable("MariaDB", exc)
        raise
    name = f"mcsv_{uuid.uuid4().hex[:10]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cur.execute(f"USE `{name}`")
        cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
        cur.execute(AWKWARD_TABLE)
        cur.executemany(f"INSERT INTO awk VALUES ({', '.join(['%s'] * len(ROWS[0]))})", ROWS)
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        conn.close()


def _pipeline(folder: Path, db: str, extract: dict[str, Any], write: dict[str, Any], password: str = "") -> Path:
    conn = {"host": MY["host"], "port": MY["port"], "database": db, "user": MY["user"], "password": password}
    (folder / "osiris_connections.yaml").write_text(json.dumps({"connections": {"mysql": {"m": conn}}}))
    doc = {
        "oml_version": "0.1.0",
        "name": "mcsv",
        "steps": [
            {"id": "extract", "component": "mysql.extractor", "mode": "read",
             "config": {"connection": "@mysql.m", **extract}},
            {"id": "write", "component": "filesystem.csv_writer", "mode": "write", "needs": ["extract"],
             "config": {"path": "out.csv", **write}},
        ],
    }  # fmt: skip
    path = folder / "pipeline.yaml"
    path.write_text(json.dumps(doc))
    return path


def _run(
    pipeline: Path, *, arrow: bool = False, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> tuple[int, list[dict[str, Any]]]:
    """``osirisc run``; (exit status, the run's events)."""
    full = {**os.environ, **(env or {})}
    full.pop("OSIRIS_EXPORT", None)
    if arrow:
        full["OSIRIS_EXPORT"] = "off"
    runs = pipeline.parent / "runs"
    before = set(runs.rglob("events.jsonl")) if runs.exists() else set()
    proc = subprocess.run(
        [*OSIRISC, "run", str(pipeline), *args], check=False, cwd=pipeline.parent, env=full, capture_output=True
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    (events_file,) = set(runs.rglob("events.jsonl")) - before
    return proc.returncode, [json.loads(line) for line in events_file.read_text().splitlines()]


def _messages(events: list[dict[str, Any]], step: str = "extract") -> list[str]:
    return [str(e.get("message", "")) for e in events if e.get("step") == step]


def _both(tmp_path: Path, db: str, extract: dict[str, Any], write: dict[str, Any]) -> tuple[bytes, list[str]]:
    """The export's file (checked to be the export) after asserting it equals the Arrow path's byte for byte."""
    pipeline = _pipeline(tmp_path, db, extract, write)
    status, events = _run(pipeline, arrow=True)
    assert status == 0, events
    arrow = (tmp_path / "out.csv").read_bytes()
    (tmp_path / "out.csv").unlink()
    status, events = _run(pipeline)
    assert status == 0, events
    assert "mysql read path: csv export (server-formatted)" in _messages(events)
    assert (tmp_path / "out.csv").read_bytes() == arrow
    return arrow, _messages(events)


needs_client = pytest.mark.skipif(mysqlcli.client_binary() is None, reason="no mariadb/mysql client on PATH")


@needs_client
@pytest.mark.db
@pytest.mark.parametrize(
    "write",
    [
        {},
        {"quoting": "all"},
        {"quoting": "nonnumeric", "newline": "crlf"},
        {"delimiter": ";", "header": False},
        {"delimiter": "\t", "quoting": "all", "newline": "crlf"},
        {"delimiter": "|", "columns": ["nn", "dt6", "id", "bl", "d65"]},
    ],
)
def test_export_is_byte_identical_to_the_arrow_path(db: str, tmp_path: Path, write: dict[str, Any]) -> None:
    data, messages = _both(tmp_path, db, {"table": "awk"}, write)
    assert data.count(b"\n") >= len(ROWS)
    # zero dates: an empty field and a warning per column, as the Arrow path does
    assert "column 'dt': 1 zero date(s) read as NULL" in messages or "columns" in write


@needs_client
@pytest.mark.db
def test_zerofill_columns_are_written_as_their_numbers(db: str, tmp_path: Path) -> None:
    """The server pads a ZEROFILL column's text (``0000000005``); the Arrow path reads and writes the number."""
    with _connect(db) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE zf (i INT ZEROFILL, b BIGINT ZEROFILL, s SMALLINT(3) ZEROFILL, d DECIMAL(6,2) ZEROFILL, "
            "w DECIMAL(65,30) ZEROFILL)"
        )
        cur.execute(
            "INSERT INTO zf VALUES (5, 18446744073709551615, 7, 1.5, 0.000000000000000000000000000001), "
            "(0, 0, 0, 0, 0), (NULL, NULL, NULL, NULL, NULL)"
        )
    for write in ({}, {"quoting": "all"}):
        data, _ = _both(tmp_path, db, {"table": "zf"}, write)
    assert data.splitlines()[1].startswith(b'"5","18446744073709551615","7","1.50","0.00000000000')


@needs_client
@pytest.mark.db
def test_export_of_a_query_an_empty_result_and_limit(db: str, tmp_path: Path) -> None:
    _both(tmp_path, db, {"query": "SELECT id, s, d2 FROM awk WHERE id > 100"}, {})
    data, _ = _both(tmp_path, db, {"table": "awk", "columns": ["id", "t"], "limit": 2, "offset": 1}, {})
    assert data.startswith(b'"id","t"\n2,"\\N"\n')


@needs_client
@pytest.mark.db
def test_the_client_writes_into_the_file_unless_no_writer_claims_it_in_time(db: str, tmp_path: Path) -> None:
    """A writer running beside the extractor takes the client's output straight into its file (no byte through
    Python); with one job at a time the writer starts only after the extractor, which then sends the bytes through
    the channel: the same file and row counts either way."""
    pipeline = _pipeline(tmp_path, db, {"table": "awk"}, {})
    files, counts = [], []
    for args in ((), ("--jobs", "1")):
        status, events = _run(pipeline, args=args)
        assert status == 0, events
        assert "mysql read path: csv export (server-formatted)" in _messages(events)
        assert (HANDOFF_MESSAGE in _messages(events, "write")) == (args == ()), _messages(events, "write")
        # with one job the writer cannot start beside the extractor: no offer, so no wait for a claim
        assert (OFFER_MESSAGE in _messages(events, "extract")) == (args == ()), _messages(events, "extract")
        files.append((tmp_path / "out.csv").read_bytes())
        done = {e["step"]: e for e in events if e.get("event") == "step_complete"}
        counts.append((done["extract"]["rows_out"], done["write"]["rows_in"], done["write"]["rows_written"]))
    assert files[0] == files[1] and files[0].count(b"\n") >= len(ROWS)
    assert counts == [(len(ROWS),) * 3] * 2


@needs_client
@pytest.mark.db
def test_row_count_reaches_the_run_record(db: str, tmp_path: Path) -> None:
    status, events = _run(_pipeline(tmp_path, db, {"table": "awk"}, {}))
    assert status == 0
    done = {e["step"]: e for e in events if e.get("event") == "step_complete"}
    assert done["write"]["rows_written"] == len(ROWS)
    assert done["extract"]["rows_out"] == len(ROWS)
    assert done["write"]["rows_in"] == len(ROWS)


def _plan(pipeline: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "build"
    proc = subprocess.run(
        [*OSIRISC, "build", str(pipeline), "-o", str(out)], check=False, cwd=pipeline.parent, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return {s["id"]: s for s in json.loads((out / "plan.json").read_text())["steps"]}


def _osirisc_plan(pipeline: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    argv = [*OSIRISC, "plan", str(pipeline), "-o", str(tmp_path / "b")]
    return subprocess.run(argv, check=False, cwd=tmp_path, capture_output=True, text=True)


def test_plan_and_osirisc_plan_show_the_fused_pair(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, "mcsv_nodb", {"table": "awk"}, {"quoting": "all"})
    steps = _plan(pipeline, tmp_path)
    assert steps["extract"]["export"] == {
        "format": "csv",
        "into": "write",
        "options": {"columns": None, "delimiter": ",", "header": True, "newline": "lf", "quoting": "all"},
    }
    assert steps["write"]["export"] == {"format": "csv", "from": "extract"}
    text = _osirisc_plan(pipeline, tmp_path)
    assert "export: server-formatted by 'extract'" in text.stdout, text.stdout


@pytest.mark.parametrize(
    ("extract", "write", "reason"),
    [
        ({"incremental": {"cursor_column": "id"}}, {}, "'extract' sets incremental"),
        ({"partition": {"count": 2, "column": "id"}}, {}, "'extract' sets partition"),
        ({}, {"compression": "gzip"}, "compression: gzip"),
        ({}, {"path": "out.csv.gz"}, "compression: gzip"),
        ({}, {"encoding": "latin-1"}, "encoding: latin-1"),
        ({}, {"quoting": "none"}, "quoting: none"),
        ({}, {"delimiter": "'"}, 'delimiter: "\'"'),
    ],
)
def test_build_time_reasons_keep_the_arrow_path(
    tmp_path: Path, extract: dict[str, Any], write: dict[str, Any], reason: str
) -> None:
    pipeline = _pipeline(tmp_path, "mcsv_nodb", {"table": "awk", **extract}, write)
    steps = _plan(pipeline, tmp_path)
    assert "export" not in steps["extract"] and "export" not in steps["write"]
    text = _osirisc_plan(pipeline, tmp_path)
    assert "export: not fused" in text.stdout and reason in text.stdout, text.stdout


def test_a_second_consumer_or_a_transform_keeps_the_arrow_path(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, "mcsv_nodb", {"table": "awk"}, {})
    doc = json.loads(pipeline.read_text())
    doc["steps"].append({**doc["steps"][1], "id": "write2", "config": {"path": "two.csv"}})
    pipeline.write_text(json.dumps(doc))
    steps = _plan(pipeline, tmp_path)
    assert not any("export" in s for s in steps.values())


def _arrow_after_start(tmp_path: Path, db: str, extract: dict[str, Any], why: str, **kw: Any) -> None:
    """The plan fuses the pair, the run takes the Arrow path for ``why``, and the file is the Arrow path's."""
    pipeline = _pipeline(tmp_path, db, extract, {})
    assert "export" in _plan(pipeline, tmp_path)["extract"]
    status, events = _run(pipeline, arrow=True)
    assert status == 0, events
    arrow = (tmp_path / "out.csv").read_bytes()
    status, events = _run(pipeline, **kw)
    assert status == 0, events
    assert any(m.startswith("csv export not used: ") and why in m for m in _messages(events)), _messages(events)
    assert (tmp_path / "out.csv").read_bytes() == arrow


@pytest.mark.db
@pytest.mark.parametrize(
    ("ddl", "why"),
    [
        ("ALTER TABLE awk ADD f FLOAT DEFAULT 1.5, ADD g DOUBLE DEFAULT 0.1", "column 'f' is float"),
        ("ALTER TABLE awk ADD tm TIME DEFAULT '12:00:00'", "column 'tm' is time64"),
        ("ALTER TABLE awk ADD b BIT(3) DEFAULT b'101'", "column 'b' is uint64"),
    ],
)
def test_a_column_without_an_exact_form_takes_the_arrow_path(db: str, tmp_path: Path, ddl: str, why: str) -> None:
    with _connect(db) as conn, conn.cursor() as cur:
        cur.execute(ddl)
    _arrow_after_start(tmp_path, db, {"table": "awk"}, why)


@pytest.mark.db
def test_order_by_and_a_missing_client_take_the_arrow_path(db: str, tmp_path: Path) -> None:
    _arrow_after_start(tmp_path, db, {"query": "SELECT id, s FROM awk ORDER BY id DESC"}, "ORDER BY")
    _arrow_after_start(tmp_path, db, {"table": "awk"}, "no mariadb/mysql client", env={"OSIRIS_MYSQL_CLIENT": ""})


@needs_client
@pytest.mark.db
def test_an_unreadable_date_fails_both_paths_and_keeps_the_old_file(db: str, tmp_path: Path) -> None:
    with _connect(db) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("UPDATE awk SET dt = '2020-00-05' WHERE id = 4")
    pipeline = _pipeline(tmp_path, db, {"table": "awk"}, {})
    (tmp_path / "out.csv").write_bytes(b"old\n")
    for arrow in (True, False):
        status, events = _run(pipeline, arrow=arrow)
        assert status == 1
        errors = [e["error"] for e in events if e.get("event") == "step_error"]
        assert any("column 'dt'" in e for e in errors), errors
        assert (tmp_path / "out.csv").read_bytes() == b"old\n"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


def _big(db: str) -> None:
    with _connect(db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(200))")
        cur.execute("SET SESSION max_recursive_iterations = 3000000")
        cur.execute(
            "INSERT INTO big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000)"
            " SELECT i, REPEAT('x', 100) FROM n"
        )


@needs_client
@pytest.mark.db
def test_ctrl_c_mid_export_ends_the_client_and_keeps_the_old_file(db: str, tmp_path: Path) -> None:
    _big(db)
    pipeline = _pipeline(tmp_path, db, {"table": "big"}, {})
    (tmp_path / "out.csv").write_bytes(b"old\n")
    env = {k: v for k, v in os.environ.items() if k != "OSIRIS_EXPORT"}
    proc = subprocess.Popen([*OSIRISC, "run", str(pipeline)], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    clients: set[int] = set()

    def exporting() -> bool:  # the client runs and bytes reached the temporary file
        clients.update(children(proc.pid))
        return any(p.stat().st_size > 1 << 20 for p in tmp_path.glob(".out.csv.*"))

    wait_for("bytes in the temporary file", exporting, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 128 + signal.SIGINT
    assert clients and not any(alive(pid) for pid in clients)
    assert (tmp_path / "out.csv").read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


@needs_client
@pytest.mark.db
def test_a_full_disk_fails_the_writer_with_its_own_error_on_both_paths(db: str, tmp_path: Path) -> None:
    """The file size limit (``ulimit -f``) stops the file mid-export: the writer fails with the system's error and
    the old file is kept, on the handoff as on the Arrow path; the run record does not blame the source."""
    with _connect(db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE wide (id INT PRIMARY KEY, s VARCHAR(200))")
        cur.execute("INSERT INTO wide SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000")
    pipeline = _pipeline(tmp_path, db, {"table": "wide"}, {})
    (tmp_path / "out.csv").write_bytes(b"old\n")
    limit = 256 << 10  # the file needs ~2.2 MB

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    for arrow in (True, False):
        env = {k: v for k, v in os.environ.items() if k != "OSIRIS_EXPORT"}
        if arrow:
            env["OSIRIS_EXPORT"] = "off"
        runs = set(tmp_path.glob("runs/*/*"))
        argv = [*OSIRISC, "run", str(pipeline)]
        proc = subprocess.run(argv, check=False, cwd=tmp_path, env=env, capture_output=True, preexec_fn=small_files)
        assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr.decode()
        (run,) = set(tmp_path.glob("runs/*/*")) - runs
        events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
        errors = {e["step"]: e["error"] for e in events if e.get("event") == "step_error"}
        assert list(errors) == ["write"] and "File too large" in errors["write"], (arrow, errors)
        assert (tmp_path / "out.csv").read_bytes() == b"old\n"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


@needs_client
@pytest.mark.db
def test_a_killed_server_session_mid_export_keeps_the_old_file(db: str, tmp_path: Path) -> None:
    _big(db)
    pipeline = _pipeline(tmp_path, db, {"table": "big"}, {})
    (tmp_path / "out.csv").write_bytes(b"old\n")
    killed: list[int] = []

    def killer() -> None:
        with _connect() as conn, conn.cursor() as cur:
            for _ in range(1500):
                cur.execute(
                    "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND db = %s"
                    " AND info LIKE %s",
                    (db, "SELECT CONCAT_WS(%FROM (SELECT * FROM `big`) AS osiris_q"),
                )
                found = [r[0] for r in cur.fetchall()]
                if found:
                    time.sleep(0.3)  # let rows flow into the temporary file first
                    cur.execute(f"KILL {int(found[0])}")
                    killed.append(found[0])
                    return
                time.sleep(0.02)

    thread = threading.Thread(target=killer)
    thread.start()
    status, events = _run(pipeline)
    thread.join()
    assert killed, "the export's session was never seen"
    assert status == 1
    errors = [e["error"] for e in events if e.get("event") == "step_error"]
    assert any("reading rows from mysql" in e for e in errors), errors
    assert (tmp_path / "out.csv").read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


@needs_client
@pytest.mark.db
def test_no_secret_in_the_plan_the_run_folder_or_the_client_arguments(db: str, tmp_path: Path) -> None:
    user, secret = f"mcsv_{uuid.uuid4().hex[:8]}", f"mcsv-Secret-{uuid.uuid4().hex}"
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'")
        cur.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'%'")
    try:
        client = mysqlcli.client_binary()
        assert client is not None
        args_file = tmp_path / "client-args"
        wrapper = tmp_path / "client"  # records its own /proc cmdline (the same arguments the client gets)
        wrapper.write_text(f'#!/bin/sh\ncat /proc/$$/cmdline >> {args_file}\necho >> {args_file}\nexec {client} "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
        pipeline = _pipeline(tmp_path, db, {"table": "awk"}, {}, password="${MCSV_PASSWORD}")
        doc = json.loads((tmp_path / "osiris_connections.yaml").read_text())
        doc["connections"]["mysql"]["m"]["user"] = user
        (tmp_path / "osiris_connections.yaml").write_text(json.dumps(doc))
        env = {"MCSV_PASSWORD": secret, "OSIRIS_MYSQL_CLIENT": str(wrapper)}
        status, events = _run(pipeline, env=env)
        assert status == 0, events
        assert "mysql read path: csv export (server-formatted)" in _messages(events)
        assert args_file.read_bytes().strip(), "the client never ran"
        assert secret.encode() not in args_file.read_bytes()
        build = tmp_path / "build"
        _plan(pipeline, tmp_path)
        for folder in (tmp_path / "runs", build):
            for path in folder.rglob("*"):
                if path.is_file():
                    assert secret.encode() not in path.read_bytes(), path
    finally:
        with _connect() as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
