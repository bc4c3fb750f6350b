"""PostgreSQL: type mapping both ways, quoting ("x""y"), introspection from pg_catalog, ON CONFLICT upserts."""

from __future__ import annotations

import re
from typing import Any

from osiris.dialects.base import Dialect, ExistingColumn, TableInfo, on_conflict_upsert
from osiris.dialects.types import LogicalType

_NATIVE = {
    "int8": "SMALLINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "SMALLINT",
    "uint16": "INTEGER",
    "uint32": "BIGINT",
    "uint64": "NUMERIC(20,0)",
    "float32": "REAL",
    "float64": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "string": "TEXT",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamp[tz]": "TIMESTAMPTZ",
    "bytes": "BYTEA",
    "json": "JSONB",
    "uuid": "UUID",
}
_BACK = {
    "smallint": "int16",
    "integer": "int32",
    "bigint": "int64",
    "real": "float32",
    "double precision": "float64",
    "boolean": "bool",
    "text": "string",
    "character varying": "string",
    "character": "string",
    "date": "date",
    "time without time zone": "time",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamp[tz]",
    "bytea": "bytes",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "numeric": "decimal(38,9)",
    "time with time zone": "time",
    # The short spellings this dialect writes in DDL (expected_back maps planned types through them).
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamp[tz]",
    "name": "string",
    "citext": "string",
}

COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, a.atthasdef
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
PK_SQL = """
SELECT a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass(%s) AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


class Postgres(Dialect):
    name = "postgres"
    quote = '"'
    max_ident = 63
    temp_create = "CREATE TEMP TABLE"
    load_order = "ctid"
    truncate_sql = "TRUNCATE TABLE {t}"
    round_trip = {  # noqa: RUF012 - planned logical type -> what introspection gives back (widening, lossless)
        "int8": "int16",
        "uint8": "int16",
        "uint16": "int32",
        "uint32": "int64",
        "uint64": "decimal(20,0)",
    }

    def staging_schema(self, schema: str | None) -> str | None:
        return "pg_temp"

    def native(self, t: LogicalType, in_key: bool) -> tuple[str, str | None]:
        if t.name == "decimal":
            return f"NUMERIC({t.precision},{t.scale})", None
        return _NATIVE[t.name], None

    def to_logical(self, native: str) -> str:
        text = native.strip().lower()
        if text.endswith("[]"):
            return "json"
        m = re.match(r"^numeric\((\d+)(?:,\s*(\d+))?\)$", text)
        if m:
            return f"decimal({min(int(m.group(1)), 76)},{int(m.group(2) or 0)})"
        base = re.sub(r"\(\d+\)", "", text).strip()
        return _BACK.get(base, "string")

    upsert_sql = on_conflict_upsert

    def introspect(self, conn: Any, schema: str | None, table: str) -> TableInfo | None:
        ref = self.qualify(schema, table)
        cur = conn.cursor()
        cur.execute(COLUMNS_SQL, (ref,))
        rows = cur.fetchall()
        if not rows:
            return None
        cur.execute(PK_SQL, (ref,))
        pk = tuple(r[0] for r in cur.fetchall())
        return TableInfo(tuple(ExistingColumn(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows), pk)


DIALECT = Postgres()
quote_ident = DIALECT.quote_ident
to_native = DIALECT.to_native
to_logical = DIALECT.to_logical
write_statements = DIALECT.write_statements
check_existing = DIALECT.check_existing
