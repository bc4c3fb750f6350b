"""DuckDB: type mapping both ways (DESCRIBE spellings), "quoting", information_schema introspection, ON CONFLICT
upserts. DDL is transactional, so every statement of a write runs in the one transaction."""

from __future__ import annotations

import re
from typing import Any

from osiris.dialects.base import Dialect, ExistingColumn, TableInfo, on_conflict_upsert
from osiris.dialects.types import LogicalType

MAX_PRECISION = 38
_NATIVE = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamp[tz]": "TIMESTAMPTZ",
    "bytes": "BLOB",
    "json": "JSON",
    "uuid": "UUID",
}
_BACK = {v.lower(): k for k, v in _NATIVE.items()}
_BACK.update(
    {
        "int": "int32",
        "integer": "int32",
        "real": "float32",
        "float4": "float32",
        "float8": "float64",
        "text": "string",
        "timestamp with time zone": "timestamp[tz]",
        "timestamp_ns": "timestamp",
        "timestamp_ms": "timestamp",
        "timestamp_s": "timestamp",
        "bytea": "bytes",
        "hugeint": "decimal(39,0)",
        "uhugeint": "decimal(39,0)",
        "time with time zone": "string",  # read as text: Arrow's time64 would drop the offset (dialects/exact.py)
        "timetz": "string",
        "bool": "bool",
        "varchar": "string",
    }
)

COLUMNS_SQL = """
SELECT column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL
FROM information_schema.columns
WHERE table_schema = COALESCE(?, current_schema()) AND table_name = ? AND table_catalog = current_database()
ORDER BY ordinal_position
"""
PK_SQL = """
SELECT constraint_column_names FROM duckdb_constraints()
WHERE schema_name = COALESCE(?, current_schema()) AND table_name = ? AND constraint_type = 'PRIMARY KEY'
  AND database_name = current_database()
"""


class DuckDB(Dialect):
    name = "duckdb"
    quote = '"'
    max_ident = 255
    temp_create = "CREATE TEMP TABLE"
    load_order = "rowid"
    truncate_sql = "DELETE FROM {t}"
    round_trip: dict[str, str] = {}  # noqa: RUF012 - every logical type comes back unchanged

    def staging_schema(self, schema: str | None) -> str | None:
        return "temp"  # the catalog of temporary objects: "temp"."t" never names a persistent table

    def native(self, t: LogicalType, in_key: bool) -> tuple[str, str | None]:
        if t.name == "decimal":
            if t.precision == MAX_PRECISION + 1 and t.scale == 0:
                return "HUGEINT", None  # DuckDB's HUGEINT/UHUGEINT (SUM of integers): exact; beyond it fails the run
            if t.precision > MAX_PRECISION:
                return "DOUBLE", f"DuckDB DECIMAL holds at most {MAX_PRECISION} digits; stored as DOUBLE"
            return f"DECIMAL({t.precision},{t.scale})", None
        return _NATIVE[t.name], None

    def to_logical(self, native: str) -> str:
        text = native.strip().lower()
        if text.endswith("]") or text.startswith(("struct", "map", "union")):
            return "json"
        m = re.match(r"^(decimal|numeric)\((\d+)(?:,\s*(\d+))?\)$", text)
        if m:
            return f"decimal({m.group(2)},{int(m.group(3) or 0)})"
        if text in ("decimal", "numeric"):
            return "decimal(18,3)"
        return _BACK.get(text, "string")

    upsert_sql = on_conflict_upsert

    def last_of_each_key(self, names: str, keys: str, staging: str) -> str:
        # Not DISTINCT ON: DuckDB's DISTINCT ON / window paths turn a float -0.0 into 0.0.
        last = f"SELECT max({self.load_order}) FROM {staging} GROUP BY {keys}"
        return f"SELECT {names} FROM {staging} WHERE {self.load_order} IN ({last})"

    def introspect(self, conn: Any, schema: str | None, table: str) -> TableInfo | None:
        rows = conn.execute(COLUMNS_SQL, [schema, table]).fetchall()
        if not rows:
            return None
        pk_rows = conn.execute(PK_SQL, [schema, table]).fetchall()
        pk = tuple(pk_rows[0][0]) if pk_rows else ()
        return TableInfo(tuple(ExistingColumn(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows), pk)


DIALECT = DuckDB()
quote_ident = DIALECT.quote_ident
to_native = DIALECT.to_native
to_logical = DIALECT.to_logical
write_statements = DIALECT.write_statements
check_existing = DIALECT.check_existing
