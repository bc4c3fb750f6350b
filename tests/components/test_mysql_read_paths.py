"""Every mysql.extractor read path on ordinary awkward text at a size that spans many read blocks, compared value by
value with what pymysql reads directly; and how a failure while rows stream is reported."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pymysql
import pytest
from conftest import _unavailable

from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.runtime.connectors import mysql, mysqlcli
from osiris.runtime.driver import StepContext, StepError

MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PATHS = [
    "pymysql",
    *(["mysqlclient"] if mysql.fast_path_available() else []),
    *(["cli"] if mysqlcli.client_binary() else []),
]
ROWS = 60_000
BATCH = 1000  # the CLI path reads 1 MiB blocks for this batch size; the driver paths fetch 1000 rows at a time
pytestmark = pytest.mark.db


def _ctx(config: dict[str, Any], db: str, tmp_path: Path, events: list[Any]) -> StepContext:
    return StepContext("s", config, {**MY, "database": db}, tmp_path, tmp_path, event=lambda k, d: events.append(d))


def _text(rng: random.Random) -> str | None:
    """Mostly plain words; sometimes tabs, newlines, quotes, backslashes, 'NULL', '\\N', emoji; CR in ~0.01%."""
    roll = rng.random()
    if roll < 0.02:
        return None
    if roll < 0.03:
        return rng.choice(["NULL", "\\N", "", "\\", "'", '"', "\t", "\n"])
    words = [rng.choice(["alpha", "beta", "gamma", "delta", "\u00e9t\u00e9", "\U0001f600", "NULL", "x" * 20])]
    words += [rng.choice(["lorem", "ipsum", "dolor", "sit", "amet"]) for _ in range(rng.randint(5, 40))]
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words)), rng.choice(["\t", "\n", "\\", "\\N", "'q'", '"dq"', "\\t"]))
    if rng.random() < 0.0001 * 3:  # three CR kinds below: about 0.01% each
        words.insert(rng.randrange(len(words)), rng.choice(["\r", "\r\n", "a\rb"]))
    return " ".join(words)


@pytest.fixture(scope="module")
def text_db() -> Any:
    """A table of ROWS awkward VARCHARs (about 12 MB of client output) with carriage returns scattered in it."""
    import uuid

    try:
        admin = pymysql.connect(**MY, autocommit=True, connect_timeout=5)
    except Exception as exc:
        _unavailable("MariaDB", exc)  # CI (OSIRIS_REQUIRE_DB): a failure, not a skip
        raise
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    rng = random.Random(20261130)
    rows = [(i, _text(rng), _text(rng)) for i in range(ROWS)]
    rows[ROWS // 3] = (ROWS // 3, "carriage\rreturn", "crlf\r\nhere")  # at least two, whatever the seed gives
    rows[2 * ROWS // 3] = (2 * ROWS // 3, "\r", "\\r is not \r")
    conn = pymysql.connect(**MY, database=name, autocommit=True, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(400), w VARCHAR(400))")
        for start in range(0, ROWS, 5000):
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s)", rows[start : start + 5000])
    conn.close()
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        admin.close()


def _direct(db: str) -> list[tuple[Any, ...]]:
    """The table as a second client (pymysql, no osiris code) reads it."""
    conn = pymysql.connect(**MY, database=db, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, v, w FROM t ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_every_read_path_exact_on_awkward_text_over_many_blocks(text_db: str, tmp_path: Path, path: str) -> None:
    want = _direct(text_db)
    assert sum(1 for r in want for v in r[1:] if v and "\r" in v) >= 4
    assert sum(len(v.encode()) for r in want for v in r[1:] if v) > 10 * (1 << 20)  # > 10 CLI blocks of 1 MiB
    events: list[Any] = []
    driver = MySQLExtractor({}, _ctx({"table": "t", "batch_size": BATCH}, text_db, tmp_path, events))
    driver.path = path
    reader = driver.run({})
    assert any(f"read path: {path}" in e.get("message", "") for e in events)
    batches = list(reader)
    assert len(batches) >= 10
    got = pa.Table.from_batches(batches).sort_by("id")
    assert got.num_rows == len(want)
    for name, index in (("id", 0), ("v", 1), ("w", 2)):
        values = got.column(name).to_pylist()
        bad = [(r[0], r[index], v) for r, v in zip(want, values, strict=True) if r[index] != v]
        assert bad == [], f"{path}: column {name} differs in {len(bad)} row(s), first {bad[:3]}"


def _failing_query() -> str:
    """A query whose first rows stream out before the server fails (a scalar subquery that turns multi-row)."""
    return "SELECT seq, IF(seq > 150000, (SELECT 1 UNION SELECT 2), seq) AS x FROM seq_1_to_200000"


@pytest.mark.parametrize("path", PATHS)
def test_error_while_rows_stream_says_what_failed(mysql_db: str, tmp_path: Path, path: str) -> None:
    driver = MySQLExtractor({}, _ctx({"query": _failing_query(), "batch_size": 1000}, mysql_db, tmp_path, []))
    driver.path = path
    with pytest.raises(StepError) as err:
        driver.run({}).read_all()
    message = str(err.value)
    assert message.startswith("reading rows from mysql"), message
    assert "Subquery returns more than 1 row" in message and "(MySQL/MariaDB error 1242)" in message, message
    assert "---" not in message and "SELECT" not in message and "\n" not in message, message
