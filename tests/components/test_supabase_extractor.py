"""supabase.extractor honours Osiris's select / filter / order / limit / offset (as SQL over the real PostgreSQL,
values as parameters) and its timeout / retries (connect only). Each result is compared with the same selection
written by hand in SQL and run by PostgreSQL itself."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from osiris.components.supabase_extractor.driver import Driver, build_query
from osiris.runtime.connectors import postgres
from osiris.runtime.driver import StepContext, StepError

pytestmark = pytest.mark.db

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
CONN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test", "password": ""}
AWKWARD = ["a\tb", "line\nbreak", "cr\r", "back\\slash", "quote'\"", "NULL", "\\N", "😀 emoji", "", None]
ROWS = 12_000  # several batches of 1000


@pytest.fixture
def orders(pg_schema: str) -> str:
    """orders(id, status, amount, note, "pct%") with ROWS rows, awkward text in note."""
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{pg_schema}".orders (id INT PRIMARY KEY, status TEXT, amount NUMERIC(10,2), '
            'note TEXT, "pct%" INT, created DATE)'
        )
        with conn.cursor().copy(
            f'COPY "{pg_schema}".orders (id, status, amount, note, "pct%", created) FROM STDIN'
        ) as copy:
            for i in range(ROWS):
                status = ("completed", "pending", "cancelled", None)[i % 4]
                created = None if i % 7 == 0 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
                copy.write_row((i, status, None if i % 11 == 0 else i % 500 + 0.25, AWKWARD[i % 10], i % 3, created))
    return pg_schema


def _read(config: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    ctx = StepContext("s", {"batch_size": 1000, **config}, CONN, tmp_path, tmp_path)
    return Driver({}, ctx).run({}).read_all().to_pylist()


def _sql(sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(**PG) as conn:
        cur = conn.execute(sql, params or None)
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _norm(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(str(v) if v is not None else None for v in r.values()) for r in rows]


CASES = [
    ({"select": "id,status"}, "SELECT id, status FROM {t} ORDER BY id"),
    ({"select": " id , note , pct% ", "order": "id.desc"}, 'SELECT id, note, "pct%" FROM {t} ORDER BY id DESC'),
    ({"filter": {"status": "eq.completed"}, "order": "id"}, "SELECT * FROM {t} WHERE status = 'completed' ORDER BY id"),
    ({"filter": {"status": "completed"}, "order": "id"}, "SELECT * FROM {t} WHERE status = 'completed' ORDER BY id"),
    (
        {"filter": {"amount": "gte.100", "id": "lt.5000", "status": "neq.pending"}, "order": "amount.desc,id"},
        "SELECT * FROM {t} WHERE amount >= 100 AND id < 5000 AND status <> 'pending' ORDER BY amount DESC, id",
    ),
    ({"filter": {"status": "is.null"}, "order": "id"}, "SELECT * FROM {t} WHERE status IS NULL ORDER BY id"),
    ({"filter": {"status": None}, "order": "id"}, "SELECT * FROM {t} WHERE status IS NULL ORDER BY id"),
    ({"filter": {"status": "not.is.null", "id": "gt.11900"}, "order": "id"},
     "SELECT * FROM {t} WHERE status IS NOT NULL AND id > 11900 ORDER BY id"),
    ({"filter": {"status": 'in.(completed,"can,celled",pending)'}, "order": "id"},
     "SELECT * FROM {t} WHERE status IN ('completed', 'pending') ORDER BY id"),
    ({"filter": {"id": [1, 2, 3, 99999]}, "order": "id"}, "SELECT * FROM {t} WHERE id IN (1, 2, 3) ORDER BY id"),
    ({"filter": {"status": "not.in.(completed,pending)"}, "order": "id"},
     "SELECT * FROM {t} WHERE NOT (status IN ('completed', 'pending')) ORDER BY id"),
    ({"filter": {"note": "like.*slash"}, "order": "id"}, "SELECT * FROM {t} WHERE note LIKE '%slash' ORDER BY id"),
    ({"filter": {"status": "ilike.COMP*"}, "order": "id"}, "SELECT * FROM {t} WHERE status ILIKE 'comp%' ORDER BY id"),
    ({"filter": {"note": "quote'\""}, "order": "id"}, "SELECT * FROM {t} WHERE note = 'quote''\"' ORDER BY id"),
    ({"filter": {"note": "NULL"}, "order": "id"}, "SELECT * FROM {t} WHERE note = 'NULL' ORDER BY id"),
    ({"filter": {"pct%": 2}, "order": "id", "limit": 5, "offset": 10},
     'SELECT * FROM {t} WHERE "pct%" = 2 ORDER BY id LIMIT 5 OFFSET 10'),
    ({"order": "created.desc.nullsfirst,id.asc", "limit": 2500},
     "SELECT * FROM {t} ORDER BY created DESC NULLS FIRST, id ASC LIMIT 2500"),
    ({"order": "created.asc.nullslast,id", "offset": 11990},
     "SELECT * FROM {t} ORDER BY created ASC NULLS LAST, id OFFSET 11990"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "sql"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_select_filter_order_are_the_sql_they_mean(
    orders: str, tmp_path: Path, options: dict[str, Any], sql: str
) -> None:
    got = _read({"schema": orders, "table": "orders", **options}, tmp_path)
    want = _sql(sql.format(t=f'"{orders}".orders'))
    assert len(want) > 0 or "99999" in sql
    assert _norm(got) == _norm(want)
    assert list(got[0]) == list(want[0])  # the selected columns, in order


def test_filter_values_are_parameters_never_sql(orders: str, tmp_path: Path) -> None:
    evil = f'x\'; DROP TABLE "{orders}".orders; --'
    assert (
        _read({"schema": orders, "table": "orders", "filter": {"status": evil, "note": f"eq.{evil}"}}, tmp_path) == []
    )
    query, params = build_query({"schema": orders, "table": "orders", "filter": {"status": evil}})
    assert evil not in query and params == [evil]
    assert _sql(f'SELECT count(*) AS n FROM "{orders}".orders') == [{"n": ROWS}]


def test_unknown_order_modifier_is_a_step_error() -> None:
    with pytest.raises(StepError, match=r"column\[\.asc"):
        build_query({"table": "t", "order": "a.sideways"})


# --------------------------------------------------------------------------------------- timeout and retries
def test_retries_is_the_number_of_connect_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on: each connect is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls: list[int] = []
    real = psycopg.connect

    def counting(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(psycopg, "connect", counting)
    for retries, attempts in ((0, 1), (2, 3)):
        calls.clear()
        ctx = StepContext("s", {"table": "t", "retries": retries}, {**CONN, "port": port}, tmp_path, tmp_path)
        with pytest.raises(StepError, match="extract from"):
            Driver({}, ctx).run({})
        assert len(calls) == attempts


@pytest.mark.slow
def test_timeout_is_the_connect_timeout(tmp_path: Path) -> None:
    """A server that accepts but never answers: the connect gives up after `timeout` seconds, not libpq's 10."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        conn = {**CONN, "port": server.getsockname()[1]}
        assert postgres.params({"timeout": 7}, conn)["connect_timeout"] == "7"  # libpq keywords are text
        ctx = StepContext("s", {"table": "t", "timeout": 5, "retries": 0}, conn, tmp_path, tmp_path)
        started = time.monotonic()
        with pytest.raises(StepError):
            Driver({}, ctx).run({})
        elapsed = time.monotonic() - started
        assert 4.5 <= elapsed < 9.5, elapsed  # libpq's default here would be 10 s
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        server.close()
