"""Write plans applied to the real PostgreSQL, MariaDB and DuckDB: every mode, keys, evolution, catalog checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dialect_apply import apply, my_connect, pg_connect

from osiris.dialects import dialect, plan_write

pytestmark = pytest.mark.db

COLS = [
    {"name": "id", "type": "int64", "nullable": False},
    {"name": "Name", "type": "string"},
    {"name": "amount", "type": "decimal(12,2)"},
    {"name": "day", "type": "date"},
]
ROWS1 = [(1, "a", Decimal("1.50"), dt.date(2024, 1, 1)), (2, "b", None, None)]
ROWS2 = [(2, "B", Decimal("2.25"), dt.date(2024, 2, 2)), (3, "c", Decimal("3.00"), None)]


@pytest.fixture(params=["postgres", "mysql", "duckdb"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any, str]]:
    """(dialect, open connection, schema) on a fresh schema/database/file."""
    name = request.param
    if name == "postgres":
        schema = request.getfixturevalue("pg_schema")
        conn: Any = pg_connect()
    elif name == "mysql":
        schema = request.getfixturevalue("mysql_db")
        conn = my_connect(schema)
    else:
        conn = duckdb.connect(str(tmp_path / "t.duckdb"))
        schema = "main"
    yield name, conn, schema
    conn.close()


def _rows(d: str, conn: Any, qualified: str) -> list[tuple[Any, ...]]:
    cur = conn if d == "duckdb" else conn.cursor()
    cur.execute(f"SELECT * FROM {qualified} ORDER BY 1")
    rows = [tuple(r) for r in cur.fetchall()]
    if d != "duckdb":
        conn.commit()
    return rows


def _plan(d: str, schema: str, mode: str, pk: Any = "id", columns: Any = None, **kw: Any) -> dict[str, Any]:
    return plan_write(
        d,
        {"schema": schema, "table": "People"},
        mode,
        COLS if columns is None else columns,
        pk,
        create_if_missing=True,
        **kw,
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("append", [1, 2, 2, 3]),
        ("replace", [2, 3]),
        ("truncate", [2, 3]),
        ("upsert", [1, 2, 3]),
    ],
)
def test_modes_apply_and_introspect(target: tuple[str, Any, str], mode: str, expected: list[int]) -> None:
    d, conn, schema = target
    pk = None if mode in ("append", "truncate") else "id"
    plan = _plan(d, schema, mode, pk)
    assert apply(d, conn, plan, ROWS1).status == "create"
    assert apply(d, conn, plan, ROWS2).status == "same"
    rows = _rows(d, conn, plan["target"]["qualified"])
    assert [r[0] for r in rows] == expected
    if mode == "upsert":
        assert rows[1][1] == "B" and rows[1][2] == Decimal("2.25")
    info = dialect(d).introspect(conn, schema, "People")
    assert info is not None
    assert [c.name for c in info.columns] == [c["name"] for c in COLS]
    got = [dialect(d).to_logical(c.native) for c in info.columns]
    assert got == [dialect(d).expected_back(c["type"], c["name"] == pk) for c in COLS]
    assert got == ["int64", "string", "decimal(12,2)", "date"]
    assert info.primary_key == (("id",) if pk else ())
    assert [c.nullable for c in info.columns] == [False, True, True, True]


def test_empty_input_leaves_empty_table(target: tuple[str, Any, str]) -> None:
    d, conn, schema = target
    plan = _plan(d, schema, "replace")
    apply(d, conn, plan, ROWS1)
    apply(d, conn, plan, [])
    assert _rows(d, conn, plan["target"]["qualified"]) == []
    fresh = plan_write(d, {"schema": schema, "table": "empty_one"}, "truncate", COLS, None, create_if_missing=True)
    apply(d, conn, fresh, [])
    assert _rows(d, conn, fresh["target"]["qualified"]) == []


def test_upsert_composite_key(target: tuple[str, Any, str]) -> None:
    d, conn, schema = target
    cols = [
        {"name": "a", "type": "int32", "nullable": False},
        {"name": "b", "type": "string", "nullable": False},
        {"name": "v", "type": "float64"},
    ]
    plan = plan_write(d, {"schema": schema, "table": "kv"}, "upsert", cols, ["a", "b"], create_if_missing=True)
    apply(d, conn, plan, [(1, "x", 1.0), (1, "y", 2.0), (2, "x", 3.0)])
    apply(d, conn, plan, [(1, "y", 20.0), (2, "y", 4.0)])
    rows = sorted(_rows(d, conn, plan["target"]["qualified"]))
    assert rows == [(1, "x", 1.0), (1, "y", 20.0), (2, "x", 3.0), (2, "y", 4.0)]
    info = dialect(d).introspect(conn, schema, "kv")
    assert info is not None and info.primary_key == ("a", "b")


def test_schema_evolution(target: tuple[str, Any, str]) -> None:
    d, conn, schema = target
    apply(d, conn, _plan(d, schema, "append", None, COLS[:2]), [(1, "a")])
    failing = _plan(d, schema, "append", None)
    check = apply(d, conn, failing, ROWS2)
    assert check.status == "incompatible"
    assert "missing column 'amount' decimal(12,2)" in check.message
    assert "missing column 'day' date" in check.message
    adding = _plan(d, schema, "append", None, schema_evolution="add_columns")
    check = apply(d, conn, adding, ROWS2)
    assert check.status == "add_columns" and len(check.statements) == 2
    assert [r[0] for r in _rows(d, conn, adding["target"]["qualified"])] == [1, 2, 3]
    wrong = _plan(d, schema, "append", None, [{"name": "id", "type": "string"}])
    check = apply(d, conn, wrong, [])
    assert check.status == "incompatible" and "column 'id'" in check.message


def test_missing_table_without_create(target: tuple[str, Any, str]) -> None:
    d, conn, schema = target
    plan = plan_write(d, {"schema": schema, "table": "nothere"}, "append", COLS, None, create_if_missing=False)
    assert all("CREATE TABLE" not in s for s in plan["statements"]["prepare"])
    assert apply(d, conn, plan, ROWS1).status == "missing"


def test_postgres_replace_keeps_pk_index_and_grant(pg_schema: str) -> None:
    conn = pg_connect()
    try:
        cur = conn.cursor()
        cur.execute(
            f'CREATE TABLE "{pg_schema}"."People" (id BIGINT PRIMARY KEY, "Name" TEXT, amount NUMERIC(12,2), day DATE)'
        )
        cur.execute(f'CREATE INDEX ON "{pg_schema}"."People" ("Name")')
        cur.execute(f'GRANT SELECT ON "{pg_schema}"."People" TO PUBLIC')
        cur.execute(f'INSERT INTO "{pg_schema}"."People" VALUES (9, $$old$$, NULL, NULL)')
        conn.commit()
        oid = _one(conn, f"""SELECT '"{pg_schema}"."People"'::regclass::oid""")
        plan = _plan("postgres", pg_schema, "replace")
        assert apply("postgres", conn, plan, ROWS1).status == "same"
        assert [r[0] for r in _rows("postgres", conn, plan["target"]["qualified"])] == [1, 2]
        assert _one(conn, f"""SELECT '"{pg_schema}"."People"'::regclass::oid""") == oid
        assert _one(conn, f"SELECT count(*) FROM pg_indexes WHERE schemaname = '{pg_schema}'") == 2
        assert (
            _one(
                conn,
                "SELECT count(*) FROM pg_constraint WHERE conrelid = "
                f"""'"{pg_schema}"."People"'::regclass AND contype = 'p'""",
            )
            == 1
        )
        assert _one(conn, f"SELECT has_table_privilege('public', '\"{pg_schema}\".\"People\"', 'SELECT')") is True
        assert (
            _one(
                conn,
                "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'PUBLIC' "
                f"AND table_schema = '{pg_schema}'",
            )
            == 1
        )
    finally:
        conn.close()


def test_failed_load_leaves_target_unchanged(pg_schema: str) -> None:
    conn = pg_connect()
    try:
        plan = _plan("postgres", pg_schema, "replace")
        apply("postgres", conn, plan, ROWS1)
        with pytest.raises(Exception, match=r"null value|not-null"):
            apply("postgres", conn, plan, [(None, "x", None, None)])
        assert [r[0] for r in _rows("postgres", conn, plan["target"]["qualified"])] == [1, 2]
    finally:
        conn.close()


def _one(conn: Any, sql: str) -> Any:
    cur = conn.cursor()
    cur.execute(sql)
    value = cur.fetchone()[0]
    conn.commit()
    return value


ALL_TYPES = [
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "bool", "string",
    "date", "time", "timestamp", "timestamp[tz]", "bytes", "json", "uuid", "decimal(12,2)", "decimal(38,10)",
]  # fmt: skip


def test_a_table_the_plan_created_matches_the_plan(target: tuple[str, Any, str]) -> None:
    """A second run into the table the first run created is 'same' for every type (regression: Postgres TIME and
    TIMESTAMP columns were once reported incompatible with the plan that created them)."""
    d, conn, schema = target
    columns = [{"name": "id", "type": "int64", "nullable": False}] + [
        {"name": f"c{i}", "type": t} for i, t in enumerate(ALL_TYPES)
    ]
    plan = _plan(d, schema, "append", columns=columns)
    assert apply(d, conn, plan, []).status == "create"
    again = apply(d, conn, plan, [])
    assert again.status == "same", again.message
