"""What every SQL dialect shares: identifier quoting, column definitions and the statements of each write mode.

A dialect module (postgres.py, mysql.py, duckdb.py) defines a ``Dialect`` subclass with its type mapping and
introspection query; ``write_statements`` here builds the statements of docs/ddl.md from a write plan.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import Any

from osiris.dialects.types import LogicalType, format_type, parse_type

MODES = ("append", "replace", "upsert", "truncate")
EVOLUTIONS = ("fail", "add_columns")
# How `replace` swaps an existing table's rows (docs/ddl.md, "Replace strategies"): load a staging table and then
# DELETE + INSERT ... SELECT (readers are never blocked), or empty the target in the transaction and load straight
# into it (Postgres TRUNCATE: readers wait until commit; MariaDB and DuckDB DELETE: readers see the old rows).
REPLACE_STRATEGIES = ("staging", "truncate")
DEFAULT_REPLACE_STRATEGY = "staging"
STAGING_PREFIX = "osiris_stg_"


class PlanError(ValueError):
    """A write that cannot be planned. ``field`` names the config key at fault (for the diagnostic's span)."""

    def __init__(self, message: str, field: str = "", column: str | None = None):
        super().__init__(message)
        self.field = field
        self.column = column


@dataclass(frozen=True)
class ExistingColumn:
    name: str
    native: str
    nullable: bool
    has_default: bool = False


@dataclass(frozen=True)
class TableInfo:
    """An existing table as introspected: its columns in order and its primary key."""

    columns: tuple[ExistingColumn, ...]
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableCheck:
    """The result of comparing an existing table with a write plan (docs/ddl.md, "Schema evolution")."""

    status: str  # create | same | add_columns | incompatible | missing
    statements: tuple[str, ...] = ()
    message: str = ""
    differences: tuple[str, ...] = field(default=())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Dialect(abc.ABC):
    """Base of the SQL dialects. Subclasses set the class attributes and the type mapping."""

    name = ""
    quote = '"'
    max_ident = 63
    temp_create = "CREATE TEMP TABLE"
    temp_drop = "DROP TABLE IF EXISTS"
    truncate_sql = "TRUNCATE TABLE {t}"
    load_order = ""  # the system column that orders a staging table's rows as loaded (postgres ctid, duckdb rowid)
    round_trip: dict[str, str] = {}  # noqa: RUF012 - read-only per class

    # --------------------------------------------------------------- identifiers
    def check_ident(self, name: str) -> str | None:
        """Why ``name`` cannot be used as an identifier, or None when it can be quoted safely."""
        if not name:
            return "an identifier cannot be empty"
        if _CONTROL.search(name):
            return f"identifier {name!r} contains a control character"
        if len(name.encode()) > self.max_ident:
            return f"identifier {name!r} is longer than {self.max_ident} bytes ({self.name} limit)"
        if name != name.strip():
            return f"identifier {name!r} has leading or trailing spaces"
        return None

    def quote_ident(self, name: str) -> str:
        problem = self.check_ident(name)
        if problem:
            raise PlanError(problem)
        q = self.quote
        return q + name.replace(q, q + q) + q

    def qualify(self, schema: str | None, table: str) -> str:
        return f"{self.quote_ident(schema)}.{self.quote_ident(table)}" if schema else self.quote_ident(table)

    # --------------------------------------------------------------- types
    @abc.abstractmethod
    def native(self, t: LogicalType, in_key: bool) -> tuple[str, str | None]:
        """Each dialect defines it."""

    def to_native(self, type_text: str, in_key: bool = False) -> tuple[str, str | None]:
        """The column type for a logical type, and why it is lossy (None when lossless)."""
        return self.native(parse_type(type_text), in_key)

    @abc.abstractmethod
    def to_logical(self, native: str) -> str:
        """Each dialect defines it."""

    def expected_back(self, type_text: str, in_key: bool = False) -> str:
        """The logical type introspection gives back for a column planned as ``type_text``."""
        return self.to_logical(self.to_native(type_text, in_key)[0])

    # --------------------------------------------------------------- statements
    def column_def(self, col: dict[str, Any], in_key: bool, force_nullable: bool = False) -> str:
        sql, _ = self.to_native(str(col["type"]), in_key)
        null = "" if force_nullable or (col.get("nullable", True) and not in_key) else " NOT NULL"
        return f"{self.quote_ident(str(col['name']))} {sql}{null}"

    def create_table(self, plan: dict[str, Any]) -> str:
        pk = list(plan["primary_key"])
        defs = [self.column_def(c, c["name"] in pk) for c in plan["columns"]]
        if pk:
            defs.append("PRIMARY KEY (" + ", ".join(self.quote_ident(k) for k in pk) + ")")
        return f"CREATE TABLE IF NOT EXISTS {plan['target']['qualified']} ({', '.join(defs)})"

    def create_staging(self, plan: dict[str, Any]) -> str:
        pk = list(plan["primary_key"])
        defs = [self.column_def(c, c["name"] in pk, force_nullable=True) for c in plan["columns"]]
        return f"{self.temp_create} {plan['load_table']['qualified']} ({', '.join(defs)})"

    def drop_staging(self, plan: dict[str, Any]) -> str:
        return f"{self.temp_drop} {plan['load_table']['qualified']}"

    @abc.abstractmethod
    def upsert_sql(self, target: str, cols: list[str], pk: list[str], staging: str) -> str:
        """Each dialect defines it."""

    def add_column_sql(self, target: str, col: dict[str, Any]) -> str:
        return f"ALTER TABLE {target} ADD COLUMN {self.column_def(col, False, force_nullable=True)}"

    def last_of_each_key(self, names: str, keys: str, staging: str) -> str:
        """SELECT of each key's last staged row (``names`` and ``keys`` are quoted column lists)."""
        return f"SELECT DISTINCT ON ({keys}) {names} FROM {staging} ORDER BY {keys}, {self.load_order} DESC"

    def staging_schema(self, schema: str | None) -> str | None:
        """The schema the staging table is created in (postgres: pg_temp, so a DROP never hits a real table)."""
        return schema

    def staging_name(self, table: str) -> str:
        name = STAGING_PREFIX + table
        while len(name.encode()) > self.max_ident:
            name = name[:-1]
        return name

    def write_statements(self, plan: dict[str, Any]) -> dict[str, list[str]]:
        """``{prepare, finalize}`` for the plan's mode (docs/ddl.md). ``load_table`` says where the bulk load goes:
        when it is the target itself, `replace` empties the target first (or nothing at all: ``plan["empty"]``,
        a table this run creates or found empty under its lock) and needs no staging table."""
        target = plan["target"]["qualified"]
        cols = ", ".join(self.quote_ident(str(c["name"])) for c in plan["columns"])
        prepare = [self.create_table(plan)] if plan["create_if_missing"] else []
        finalize: list[str] = []
        mode = plan["mode"]
        direct = plan["load_table"]["qualified"] == target
        if mode == "truncate":
            prepare.append(self.truncate_sql.format(t=target))
        elif mode == "replace" and direct:
            if not plan.get("empty"):  # Postgres TRUNCATE; MariaDB/DuckDB DELETE (MariaDB's TRUNCATE commits)
                prepare.append(self.truncate_sql.format(t=target))
        elif mode in ("replace", "upsert"):
            staging = plan["load_table"]["qualified"]
            prepare += [self.drop_staging(plan), self.create_staging(plan)]
            if mode == "replace":
                finalize += [f"DELETE FROM {target}", f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}"]
            else:
                names = [str(c["name"]) for c in plan["columns"]]
                finalize.append(self.upsert_sql(target, names, list(plan["primary_key"]), staging))
            finalize.append(self.drop_staging(plan))
        return {"prepare": prepare, "finalize": finalize}

    # --------------------------------------------------------------- introspection
    @abc.abstractmethod
    def introspect(self, conn: Any, schema: str | None, table: str) -> TableInfo | None:
        """Each dialect defines it."""

    def check_existing(self, conn: Any, plan: dict[str, Any]) -> TableCheck:
        """Compare the existing target with the plan's columns; see docs/ddl.md, "Schema evolution"."""
        target = plan["target"]
        info = self.introspect(conn, target["schema"], target["table"])
        if info is None:
            if plan.get("create_if_missing", True):
                return TableCheck("create", message=f"{target['qualified']} will be created")
            return TableCheck("missing", message=f"{target['qualified']} does not exist and create_if_missing is false")
        return compare(self, info, plan)


def compare(dialect: Dialect, info: TableInfo, plan: dict[str, Any]) -> TableCheck:
    """The TableCheck of an existing table against a plan (pure: used by check_existing and tests)."""
    qualified = plan["target"]["qualified"]
    existing = {c.name: c for c in info.columns}
    pk = list(plan["primary_key"])
    planned = list(plan["columns"] or [])
    missing, problems = [], []
    for col in planned:
        have = existing.get(col["name"])
        if have is None:
            missing.append(col)
            continue
        want = dialect.expected_back(col["type"], col["name"] in pk)
        got = dialect.to_logical(have.native)
        if want != got and not _compatible(want, got):
            problems.append(f"column '{col['name']}': table has {have.native} ({got}), input is {col['type']}")
    names = {c["name"] for c in planned}
    for col in info.columns:
        if col.name not in names and not col.nullable and not col.has_default:
            problems.append(f"column '{col.name}' is NOT NULL without default in the table but not in the input")
    if plan["mode"] == "upsert" and tuple(pk) != info.primary_key and set(pk) != set(info.primary_key):
        got_pk = ", ".join(info.primary_key) or "none"
        problems.append(f"primary key: table has ({got_pk}), upsert needs ({', '.join(pk)})")
    diffs = [f"missing column '{c['name']}' {c['type']}" for c in missing]
    if problems:
        return TableCheck(
            "incompatible", message=f"{qualified}: " + "; ".join(problems + diffs), differences=tuple(problems + diffs)
        )
    if missing:
        if plan.get("schema_evolution", "fail") != "add_columns":
            return TableCheck(
                "incompatible",
                differences=tuple(diffs),
                message=f"{qualified}: {'; '.join(diffs)} (schema_evolution is 'fail'; "
                "set it to 'add_columns' to add them)",
            )
        stmts = tuple(dialect.add_column_sql(qualified, c) for c in missing)
        return TableCheck("add_columns", stmts, f"{qualified}: add {len(missing)} column(s)", tuple(diffs))
    return TableCheck("same", message=f"{qualified}: nothing to change")


def _compatible(want: str, got: str) -> bool:
    """An existing column can take the input when it is the same type or a wider type of the same kind."""
    order = ["int8", "int16", "int32", "int64"]
    if want in order and got in order:
        return order.index(got) >= order.index(want)
    if want.startswith("decimal(") and got.startswith("decimal("):
        wt, gt = parse_type(want), parse_type(got)
        return gt.scale >= wt.scale and gt.precision - gt.scale >= wt.precision - wt.scale
    if want in order and got.startswith("decimal("):
        return parse_type(got).scale == 0 and parse_type(got).precision >= 19
    return (want, got) in {("float32", "float64"), ("json", "string"), ("uuid", "string")}


def logical(text: str) -> str:
    return format_type(parse_type(text))


def on_conflict_upsert(self: Dialect, target: str, cols: list[str], pk: list[str], staging: str) -> str:
    """``INSERT ... ON CONFLICT (pk) DO UPDATE``: the upsert of PostgreSQL and DuckDB (a ``Dialect.upsert_sql``).

    Of several staged rows with one key only the LAST in input order is inserted (``last_of_each_key``, by the
    staging table's ``load_order``): PostgreSQL refuses to update a row twice in one statement and DuckDB would
    keep the first. The staging table is filled by one bulk load, so its physical row order is the input order."""
    q = self.quote_ident
    names = ", ".join(q(c) for c in cols)
    rest = [c for c in cols if c not in pk]
    action = "DO UPDATE SET " + ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in rest) if rest else "DO NOTHING"
    keys = ", ".join(q(k) for k in pk)
    return f"INSERT INTO {target} ({names}) {self.last_of_each_key(names, keys, staging)} ON CONFLICT ({keys}) {action}"
