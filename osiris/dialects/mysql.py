"""MySQL / MariaDB: type mapping both ways, `backtick` quoting, information_schema introspection, upserts with
ON DUPLICATE KEY UPDATE. DDL commits implicitly here: see docs/ddl.md; TRUNCATE is never used (DELETE instead)."""

from __future__ import annotations

import re
from typing import Any

from osiris.dialects.base import Dialect, ExistingColumn, TableInfo
from osiris.dialects.types import LogicalType

MAX_PRECISION, MAX_SCALE = 65, 30
_NATIVE = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INT",
    "int64": "BIGINT",
    "uint8": "TINYINT UNSIGNED",
    "uint16": "SMALLINT UNSIGNED",
    "uint32": "INT UNSIGNED",
    "uint64": "BIGINT UNSIGNED",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "LONGTEXT",
    "date": "DATE",
    "time": "TIME(6)",
    "timestamp": "DATETIME(6)",
    "timestamp[tz]": "DATETIME(6)",
    "bytes": "LONGBLOB",
    "json": "JSON",
    "uuid": "CHAR(36)",
}
_INTS = {"tinyint": "int8", "smallint": "int16", "mediumint": "int32", "int": "int32", "bigint": "int64"}
_UINTS = {"tinyint": "uint8", "smallint": "uint16", "mediumint": "uint32", "int": "uint32", "bigint": "uint64"}
_BACK = {
    "float": "float32",
    "double": "float64",
    "real": "float64",
    "date": "date",
    "time": "time",
    "datetime": "timestamp",
    "timestamp": "timestamp[tz]",
    "json": "json",
    "bit": "bytes",
    "year": "int16",
    "binary": "bytes",
    "varbinary": "bytes",
    "tinyblob": "bytes",
    "blob": "bytes",
    "mediumblob": "bytes",
    "longblob": "bytes",
    "uuid": "uuid",
    "bool": "bool",
    "boolean": "bool",
}

COLUMNS_SQL = """
SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL'
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s
ORDER BY ORDINAL_POSITION
"""
PK_SQL = """
SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY'
ORDER BY ORDINAL_POSITION
"""


class MySQL(Dialect):
    name = "mysql"
    quote = "`"
    max_ident = 64
    temp_create = "CREATE TEMPORARY TABLE"
    temp_drop = "DROP TEMPORARY TABLE IF EXISTS"
    truncate_sql = "DELETE FROM {t}"
    round_trip = {  # noqa: RUF012 - planned logical type -> what introspection gives back
        "timestamp[tz]": "timestamp",
        "json": "string",
        "uuid": "string",
    }

    def check_ident(self, name: str) -> str | None:
        problem = super().check_ident(name)
        if problem is None and len(name) > self.max_ident:
            return f"identifier {name!r} is longer than {self.max_ident} characters (mysql limit)"
        return problem

    def native(self, t: LogicalType, in_key: bool) -> tuple[str, str | None]:
        if t.name == "decimal":
            if t.precision > MAX_PRECISION or t.scale > MAX_SCALE:
                p, s = min(t.precision, MAX_PRECISION), min(t.scale, MAX_SCALE)
                return f"DECIMAL({p},{s})", f"MySQL DECIMAL holds at most {MAX_PRECISION} digits, scale {MAX_SCALE}"
            return f"DECIMAL({t.precision},{t.scale})", None
        if t.name == "string" and in_key:
            return "VARCHAR(255)", "a MySQL key column cannot be LONGTEXT; stored as VARCHAR(255)"
        if t.name == "timestamp[tz]":
            return "DATETIME(6)", "MySQL has no time zone type; stored as DATETIME(6) in UTC"
        if t.name == "bytes" and in_key:
            return "VARBINARY(255)", "a MySQL key column cannot be LONGBLOB; stored as VARBINARY(255)"
        return _NATIVE[t.name], None

    def to_logical(self, native: str) -> str:
        text = native.strip().lower()
        if re.match(r"^tinyint\(1\)", text):
            return "bool"
        m = re.match(r"^(decimal|numeric)\((\d+)(?:,\s*(\d+))?\)", text)
        if m:
            return f"decimal({m.group(2)},{int(m.group(3) or 0)})"
        base = re.sub(r"\(.*?\)", "", text).split()
        if not base:
            return "string"
        if base[0] in _INTS:
            return (_UINTS if "unsigned" in base else _INTS)[base[0]]
        return _BACK.get(base[0], "string")

    def upsert_sql(self, target: str, cols: list[str], pk: list[str], staging: str) -> str:
        q = self.quote_ident
        names = ", ".join(q(c) for c in cols)
        rest = [c for c in cols if c not in pk] or pk[:1]
        sets = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in rest)
        return f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging} ON DUPLICATE KEY UPDATE {sets}"

    def introspect(self, conn: Any, schema: str | None, table: str) -> TableInfo | None:
        cur = conn.cursor()
        cur.execute(COLUMNS_SQL, (schema, table))
        rows = cur.fetchall()
        if not rows:
            return None
        cur.execute(PK_SQL, (schema, table))
        pk = tuple(r[0] for r in cur.fetchall())
        return TableInfo(tuple(ExistingColumn(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows), pk)


DIALECT = MySQL()
quote_ident = DIALECT.quote_ident
to_native = DIALECT.to_native
to_logical = DIALECT.to_logical
write_statements = DIALECT.write_statements
check_existing = DIALECT.check_existing
