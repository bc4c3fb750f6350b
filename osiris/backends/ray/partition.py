"""Partitioned extraction: one extractor step read as N integer ranges, in parallel (``partition: {column, count}``;
without ``column``, the ``table``'s primary key when it is one integer column, looked up in the source at run time).

The source's SELECT (its ``query``, or the SELECT built from ``table``/``columns``/``schema``: the text a schema lock
records) is wrapped twice: once for ``MIN``/``MAX``/NULL count of the column (``bounds_query``), then once per range
(``range_query``). Ranges are half-open ``[lo, hi)`` of equal width over ``MIN..MAX``; the last one ends at ``MAX``
inclusive; rows whose column is NULL go to the first partition only, so every row is read exactly once. A source with
no non-NULL value (empty, or all NULL) is read as one partition, unwrapped.

Pure functions: the Ray scheduler runs the queries through the extractor's own driver, so connections, secrets,
drivers and their errors are exactly the local ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from osiris.dialects import dialect
from osiris.dialects.lock import source_select

# the config keys that shape the SELECT a partition replaces with its own ``query``
_SHAPE = ("table", "columns", "schema", "query", "partition")


class PartitionError(Exception):
    """A partition spec the source cannot honour (not an integer column, no query to wrap)."""


def spec_of(step: Mapping[str, Any]) -> tuple[str | None, int] | None:
    """(column, count) of a read step with a ``partition`` of count >= 2 (column None: the table's integer primary
    key, found at run time); None when it reads as one stream."""
    part = (step.get("config") or {}).get("partition")
    if not isinstance(part, Mapping) or step.get("mode") not in ("read", "extract"):
        return None
    column, count = part.get("column"), part.get("count", 1)
    if not isinstance(count, int) or count < 2:
        return None
    return (column if isinstance(column, str) else None), count


_INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


def _literal(text: str, dialect_name: str) -> str:
    """A string literal (MySQL also reads backslash escapes in one; PostgreSQL's standard strings do not)."""
    if dialect_name == "mysql":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def primary_key_query(dialect_name: str, config: Mapping[str, Any]) -> str:
    """The columns and types of the primary key of the step's ``table`` (one row per key column, in key order)."""
    table = config.get("table")
    if not isinstance(table, str) or not table:
        raise PartitionError("partition without `column` needs a `table` source (a query has no primary key)")
    schema = config.get("schema") if isinstance(config.get("schema"), str) and config.get("schema") else None
    if "." in table:
        schema, table = table.rsplit(".", 1)
    if dialect_name == "mysql":
        where_schema = f"k.TABLE_SCHEMA = {_literal(schema, 'mysql')}" if schema else "k.TABLE_SCHEMA = DATABASE()"
        return (
            "SELECT k.COLUMN_NAME AS name, c.DATA_TYPE AS type FROM information_schema.KEY_COLUMN_USAGE AS k "
            "JOIN information_schema.COLUMNS AS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME "
            f"AND c.COLUMN_NAME = k.COLUMN_NAME WHERE k.CONSTRAINT_NAME = 'PRIMARY' AND {where_schema} "
            f"AND k.TABLE_NAME = {_literal(table, 'mysql')} ORDER BY k.ORDINAL_POSITION"
        )
    if dialect_name == "postgres":
        qualified = dialect("postgres").qualify(schema or "public", table)
        return (
            "SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type FROM pg_index AS i "
            "JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            f"WHERE i.indisprimary AND i.indrelid = to_regclass({_literal(qualified, 'postgres')}) "
            "ORDER BY array_position(i.indkey, a.attnum)"
        )
    raise PartitionError(f"partition without `column`: no primary key lookup for {dialect_name}")


def pick_primary_key(rows: Sequence[Mapping[str, Any]], table: str) -> str:
    """The name of a single-column integer primary key (from ``primary_key_query``'s rows), or PartitionError."""
    if len(rows) == 1 and str(rows[0].get("type", "")).lower() in _INTEGER_TYPES:
        return str(rows[0]["name"])
    found = ", ".join(f"{r.get('name')} {r.get('type')}" for r in rows) or "none"
    raise PartitionError(
        f"partition without `column`: table '{table}' has no single-column integer primary key "
        f"(primary key: {found}); give `partition.column`"
    )


def source_sql(step: Mapping[str, Any]) -> tuple[str, str]:
    """(dialect name, the SELECT the step reads) or PartitionError."""
    name = step.get("dialect") if step.get("dialect") in ("postgres", "mysql", "duckdb") else None  # a database's
    sql = source_select(name, step.get("config") or {}) if name else None
    if name is None or sql is None:
        raise PartitionError(f"{step.get('component')} cannot be read in partitions (no SQL source)")
    return name, sql


def bounds_query(dialect_name: str, sql: str, column: str) -> str:
    c = dialect(dialect_name).quote_ident(column)
    return f"SELECT MIN({c}) AS lo, MAX({c}) AS hi, COUNT(*) - COUNT({c}) AS nulls FROM ({sql}) AS osiris_partition"


def ranges(lo: int, hi: int, count: int) -> list[tuple[int, int, bool]]:
    """``count`` (or fewer, for a narrow span) ranges ``(start, end, end_inclusive)`` covering ``lo..hi`` exactly."""
    span = hi - lo + 1
    count = max(1, min(count, span))
    width = -(-span // count)  # ceil
    out: list[tuple[int, int, bool]] = []
    start = lo
    while start <= hi:
        end = start + width
        if end > hi:
            out.append((start, hi, True))
            break
        out.append((start, end, False))
        start = end
    return out


def range_query(dialect_name: str, sql: str, column: str, part: tuple[int, int, bool], nulls: bool) -> str:
    c = dialect(dialect_name).quote_ident(column)
    start, end, inclusive = part
    cond = f"{c} >= {int(start)} AND {c} {'<=' if inclusive else '<'} {int(end)}"
    if nulls:
        cond = f"({cond}) OR {c} IS NULL"
    return f"SELECT * FROM ({sql}) AS osiris_partition WHERE {cond}"


def check_bounds(column: str, lo: Any, hi: Any) -> None:
    for value in (lo, hi):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise PartitionError(
                f"partition column '{column}' is not an integer column (its MIN/MAX is {type(value).__name__})"
            )


def config_with_query(config: Mapping[str, Any], query: str) -> dict[str, Any]:
    """The step's config reading ``query`` instead of its table/query (secret markers and connection kept)."""
    return {**{k: v for k, v in config.items() if k not in _SHAPE}, "query": query}
