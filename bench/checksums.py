"""Per-column checksums of the benchmark table in MariaDB, PostgreSQL and DuckDB (for CSV files).

For every column: count of non-NULL values, sum/min/max for numeric columns, and a digest of the values' canonical
text in id order, each value hashed on its own (so the text 'NULL' or '\\N' never passes for NULL, nor one value
for two). The digests are taken per chunk of ids (GROUP_CONCAT stays far below MariaDB's packet limit) and hashed
together here. Source and copy must agree exactly; a copy that changed a value (rounding, time zone, truncation, a
lost NULL, an escape left in or taken out) fails.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import duckdb

from bench.settings import Settings

CHUNK = 20_000
NUMERIC = ("id", "customer_id", "amount")

# canonical text of each column, per dialect ({c} is the column)
_CANON = {
    "mysql": {
        "id": "CAST({c} AS CHAR)",
        "customer_id": "CAST({c} AS CHAR)",
        "amount": "CAST(CAST({c} AS DECIMAL(12,2)) AS CHAR)",
        "status": "{c}",
        "created_at": "DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s')",
        "note": "{c}",
    },
    "pg": {
        "id": "CAST({c} AS bigint)::text",
        "customer_id": "CAST({c} AS bigint)::text",
        "amount": "CAST({c} AS numeric(12,2))::text",
        "status": "{c}::text",
        "created_at": "to_char(CAST({c} AS timestamp), 'YYYY-MM-DD HH24:MI:SS')",
        "note": "{c}::text",
    },
    "duckdb": {
        "id": "CAST(CAST({c} AS BIGINT) AS VARCHAR)",
        "customer_id": "CAST(CAST({c} AS BIGINT) AS VARCHAR)",
        "amount": "CAST(CAST({c} AS DECIMAL(12,2)) AS VARCHAR)",
        "status": "CAST({c} AS VARCHAR)",
        "created_at": "strftime(CAST({c} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S')",
        "note": "CAST({c} AS VARCHAR)",
    },
}
_NUMTYPE = {"mysql": "DECIMAL(20,2)", "pg": "numeric(20,2)", "duckdb": "DECIMAL(20,2)"}


def _agg(dialect: str, expr: str) -> str:
    """The digest of one column's values in id order: each value is hashed on its own (``md5('=' || text)``, NULL
    is ``null``), so no text can pass for NULL or for two values (``NULL``, ``\\N``, separators in the text)."""
    if dialect == "mysql":
        return f"MD5(GROUP_CONCAT(COALESCE(MD5(CONCAT('=', {expr})), 'null') ORDER BY id SEPARATOR ','))"
    return f"md5(string_agg(COALESCE(md5('=' || {expr}), 'null'), ',' ORDER BY id))"


def queries(dialect: str, relation: str) -> tuple[str, str]:
    """(totals query, per-chunk digests query) over ``relation`` in ``dialect``."""
    canon = _CANON[dialect]
    cols = list(canon)
    totals = ["COUNT(*)"]
    for c in cols:
        totals.append(f"COUNT({c})")
        if c in NUMERIC:
            num = f"CAST({c} AS {_NUMTYPE[dialect]})"
            totals += [f"SUM({num})", f"MIN({num})", f"MAX({num})"]
    chunk = f"FLOOR((id - 1) / {CHUNK})"
    digests = ", ".join(_agg(dialect, canon[c].format(c=c)) for c in cols)
    return (
        f"SELECT {', '.join(totals)} FROM {relation}",
        f"SELECT {chunk} AS chunk, {digests} FROM {relation} GROUP BY {chunk} ORDER BY 1",
    )


def _fold(totals: tuple[Any, ...] | None, chunks: list[tuple[Any, ...]]) -> dict[str, Any]:
    if totals is None:
        raise RuntimeError("checksum query returned no row")
    cols = list(_CANON["pg"])
    out: dict[str, Any] = {"rows": int(totals[0])}
    i = 1
    for n, c in enumerate(cols):
        entry: dict[str, Any] = {"count": int(totals[i])}
        i += 1
        if c in NUMERIC:
            entry.update(
                {
                    k: None if v is None else str(Decimal(v).quantize(Decimal("0.01")))
                    for k, v in zip(("sum", "min", "max"), totals[i : i + 3], strict=True)
                }
            )
            i += 3
        digest = hashlib.md5(usedforsecurity=False)
        for row in chunks:
            digest.update(f"{int(row[0])}:{row[1 + n]}\n".encode())
        entry["md5"] = digest.hexdigest()
        out[c] = entry
    return out


def mysql_checksums(settings: Settings, table: str, relation: str | None = None) -> dict[str, Any]:
    """Checksums of ``<mysql_db>.<table>``, or of ``relation`` (a derived table, e.g. an expected result)."""
    totals_q, chunks_q = queries("mysql", relation or f"`{settings.mysql_db}`.`{table}`")
    conn = settings.mysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION group_concat_max_len = 67108864")
            cur.execute(totals_q)
            totals = cur.fetchone()
            cur.execute(chunks_q)
            chunks = list(cur.fetchall())
    finally:
        conn.close()
    return _fold(totals, chunks)


def pg_checksums(settings: Settings, table: str) -> dict[str, Any]:
    totals_q, chunks_q = queries("pg", f'"{settings.pg_schema}"."{table}"')
    conn = settings.pg_connect()
    try:
        totals = conn.execute(totals_q).fetchone()
        chunks = conn.execute(chunks_q).fetchall()
    finally:
        conn.close()
    return _fold(totals, chunks)


def duckdb_checksums(relation: str) -> dict[str, Any]:
    """``relation`` is a DuckDB table expression, e.g. ``read_csv('out.csv', ...)``."""
    totals_q, chunks_q = queries("duckdb", relation)
    con = duckdb.connect()
    try:
        totals = con.execute(totals_q).fetchone()
        chunks = con.execute(chunks_q).fetchall()
    finally:
        con.close()
    return _fold(totals, chunks)


def compare(source: dict[str, Any], copy: dict[str, Any]) -> str | None:
    """None when equal, else which columns/figures differ."""
    if source == copy:
        return None
    problems = []
    if source.get("rows") != copy.get("rows"):
        problems.append(f"rows {copy.get('rows')} != {source.get('rows')}")
    for col, want in source.items():
        if col == "rows":
            continue
        got = copy.get(col) or {}
        bad = sorted(k for k in want if want[k] != got.get(k))
        if bad:
            problems.append(f"{col}: {', '.join(bad)} differ")
    return "; ".join(problems) or "checksums differ"
