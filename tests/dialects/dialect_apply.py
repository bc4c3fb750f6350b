"""Apply a write plan the way docs/ddl.md tells a writer to (row inserts stand in for the bulk load)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import pymysql

from osiris.dialects import TableCheck, check_existing
from osiris.dialects import dialect as get_dialect

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def pg_connect() -> psycopg.Connection[Any]:
    return psycopg.connect(**PG, autocommit=False)


def my_connect(db: str) -> Any:
    return pymysql.connect(**{**MY, "database": db}, autocommit=False)


def apply(dialect: str, conn: Any, plan: dict[str, Any], rows: Sequence[Sequence[Any]]) -> TableCheck:
    """One transaction: check_existing, prepare, load rows into load_table, finalize, commit."""
    if dialect == "duckdb":
        conn.begin()
    check = check_existing(dialect, conn, plan)
    if check.status in ("incompatible", "missing"):
        conn.rollback()
        return check
    try:
        cur = conn if dialect == "duckdb" else conn.cursor()  # a DuckDB cursor is another connection
        for sql in (*check.statements, *plan["statements"]["prepare"]):
            cur.execute(sql)
        if rows:
            mark = "?" if dialect == "duckdb" else "%s"
            cols = ", ".join(_q(dialect, c) for c in plan["load_columns"])
            marks = ", ".join(mark for _ in plan["load_columns"])
            cur.executemany(f"INSERT INTO {plan['load_table']['qualified']} ({cols}) VALUES ({marks})", rows)
        for sql in plan["statements"]["finalize"]:
            cur.execute(sql)
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    return check


def _q(name_of_dialect: str, name: str) -> str:
    return get_dialect(name_of_dialect).quote_ident(name)
