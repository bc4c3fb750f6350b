"""Hypothesis: random column sets -> planned DDL -> created table -> introspected types map back to the planned ones.

Lossy pairs (a different logical type comes back, values are kept) are each dialect's ``round_trip`` table:
Postgres widens int8/uint8 -> int16, uint16 -> int32, uint32 -> int64, uint64 -> decimal(20,0); MySQL gives
timestamp[tz] -> timestamp (stored in UTC), json -> string (MariaDB's JSON is LONGTEXT), uuid -> string (CHAR(36));
DuckDB keeps every type (``decimal(39,0)``, what DuckDB's HUGEINT/UHUGEINT are read as, is a HUGEINT column).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dialect_apply import my_connect, pg_connect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.dialects import dialect, plan_write
from osiris.dialects.types import SIMPLE

pytestmark = pytest.mark.db

_types = st.one_of(
    st.sampled_from(SIMPLE),
    st.integers(1, 38).flatmap(lambda p: st.integers(0, min(p, 30)).map(lambda s: f"decimal({p},{s})")),
    st.just("decimal(39,0)"),  # DuckDB HUGEINT/UHUGEINT: NUMERIC(39,0) / DECIMAL(39,0) / HUGEINT, read back as it
)
_names = st.text(alphabet="abcXYZ_ 1\"`'", min_size=1, max_size=10).filter(lambda n: n == n.strip())
_columns = st.lists(st.tuples(_names, _types, st.booleans()), min_size=1, max_size=6, unique_by=lambda c: c[0].lower())
_counter = itertools.count()
# Each example creates its own table (a fresh name), so sharing the schema fixture across examples is intended.
_once_per_fixture = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(d: str, conn: Any, schema: str, cols: list[tuple[str, str, bool]], use_pk: bool) -> None:
    columns = [{"name": n, "type": t, "nullable": nullable} for n, t, nullable in cols]
    keyable = [c["name"] for c in columns if c["type"] not in ("json", "float32", "float64")]
    pk = keyable[:1] if use_pk else []
    table = f"rt{next(_counter)}"
    plan = plan_write(d, {"schema": schema, "table": table}, "append", columns, pk)
    cur = conn if d == "duckdb" else conn.cursor()
    for sql in plan["statements"]["prepare"]:
        cur.execute(sql)
    conn.commit()
    info = dialect(d).introspect(conn, schema, table)
    assert info is not None
    got = [(c.name, dialect(d).to_logical(c.native), c.nullable) for c in info.columns]
    want = [
        (c["name"], dialect(d).round_trip.get(c["type"], c["type"]), c["nullable"] and c["name"] not in pk)
        for c in columns
    ]
    assert got == want
    assert info.primary_key == tuple(pk)
    if d != "duckdb":
        conn.commit()


@given(cols=_columns, use_pk=st.booleans())
@_once_per_fixture
def test_round_trip_postgres(pg_schema: str, cols: list[tuple[str, str, bool]], use_pk: bool) -> None:
    conn = pg_connect()
    try:
        _check("postgres", conn, pg_schema, cols, use_pk)
    finally:
        conn.close()


@given(cols=_columns, use_pk=st.booleans())
@_once_per_fixture
def test_round_trip_mysql(mysql_db: str, cols: list[tuple[str, str, bool]], use_pk: bool) -> None:
    conn = my_connect(mysql_db)
    try:
        _check("mysql", conn, mysql_db, cols, use_pk)
    finally:
        conn.close()


@given(cols=_columns, use_pk=st.booleans())
@_once_per_fixture
def test_round_trip_duckdb(tmp_path: Path, cols: list[tuple[str, str, bool]], use_pk: bool) -> None:
    conn = duckdb.connect(str(tmp_path / "rt.duckdb"))
    try:
        _check("duckdb", conn, "main", cols, use_pk)
    finally:
        conn.close()
