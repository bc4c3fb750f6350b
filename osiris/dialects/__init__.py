"""Types, SQL dialects and write plans: the part of DDL planning the runtime needs without the compiler.

Depends only on the standard library and pyarrow (DuckDB is imported lazily for CSV sniffing). The compiler's
``plan_ddl`` pass calls ``plan_write`` at build time; a writer calls it at run time when the schema was unknown,
and calls ``check_existing`` on its open connection before loading (docs/ddl.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from osiris.dialects.base import (
    DEFAULT_REPLACE_STRATEGY,
    EVOLUTIONS,
    MODES,
    REPLACE_STRATEGIES,
    Dialect,
    PlanError,
    TableCheck,
)
from osiris.dialects.types import TypeParseError, columns_from_arrow, normalize

__all__ = [
    "DIALECTS",
    "PlanError",
    "TableCheck",
    "check_existing",
    "columns_from_arrow",
    "dialect",
    "load_directly",
    "plan_write",
    "retarget",
]

DIALECTS = ("postgres", "mysql", "duckdb", "csv")
_ALIASES = {"postgresql": "postgres", "supabase": "postgres", "mariadb": "mysql", "filesystem": "csv"}


def dialect(name: str) -> Dialect:
    """The SQL dialect object for ``postgres`` / ``mysql`` / ``duckdb`` (aliases: postgresql, supabase, mariadb)."""
    key = _ALIASES.get(name, name)
    if key not in ("postgres", "mysql", "duckdb"):
        raise PlanError(f"no SQL dialect named '{name}'", "dialect")
    obj: Dialect = importlib.import_module(f"osiris.dialects.{key}").DIALECT
    return obj


def plan_write(
    dialect_name: str,
    target: Mapping[str, Any],
    mode: str,
    columns: Sequence[Mapping[str, Any]] | None,
    primary_key: str | Sequence[str] | None = None,
    *,
    schema_evolution: str = "fail",
    create_if_missing: bool = True,
    replace_strategy: str | None = None,
) -> dict[str, Any]:
    """The write plan of docs/ddl.md. ``target`` is ``{"schema": str|None, "table": str}``; ``replace_strategy``
    (``staging`` or ``truncate``, default staging) is kept in the plan of a `replace` only.

    Raises PlanError (with ``field`` = the config key at fault) for a write that cannot be planned.
    """
    name = _ALIASES.get(dialect_name, dialect_name)
    strategy = _check_choices(name, dialect_name, mode, schema_evolution, replace_strategy)
    pk = _primary_key(mode, primary_key)
    cols = _columns(columns)
    _check_key_columns(pk, cols)
    schema, table = target.get("schema"), str(target.get("table") or "")
    plan: dict[str, Any] = {
        "dialect": name,
        "mode": mode,
        "columns": cols,
        "primary_key": pk,
        "schema_evolution": schema_evolution,
        "create_if_missing": bool(create_if_missing),
        "warnings": [],
    }
    if mode == "replace" and name != "csv":
        plan["replace_strategy"] = strategy
    if name == "csv":
        plan.update(
            target={"schema": None, "table": table, "qualified": table},
            load_table=None,
            load_columns=None if cols is None else [c["name"] for c in cols],
            statements={"prepare": [], "finalize": []},
        )
        return plan
    return _sql_plan(plan, dialect(name), schema, table, strategy)


def _check_choices(name: str, dialect_name: str, mode: str, schema_evolution: str, replace_strategy: str | None) -> str:
    """PlanError for a dialect, mode, evolution or replace strategy outside its choices; the strategy in effect."""
    if name not in DIALECTS:
        raise PlanError(f"unknown dialect '{dialect_name}' (expected one of {', '.join(DIALECTS)})", "dialect")
    if mode not in MODES:
        raise PlanError(f"unknown write mode '{mode}' (expected one of {', '.join(MODES)})", "write_mode")
    if schema_evolution not in EVOLUTIONS:
        raise PlanError(
            f"unknown schema_evolution '{schema_evolution}' (expected fail or add_columns)", "schema_evolution"
        )
    strategy = replace_strategy or DEFAULT_REPLACE_STRATEGY
    if strategy not in REPLACE_STRATEGIES:
        raise PlanError(
            f"unknown replace_strategy '{strategy}' (expected one of {', '.join(REPLACE_STRATEGIES)})",
            "replace_strategy",
        )
    return strategy


def _primary_key(mode: str, primary_key: str | Sequence[str] | None) -> list[str]:
    """The key columns as a list; PlanError for an upsert without one or a column listed twice."""
    pk = [primary_key] if isinstance(primary_key, str) else list(primary_key or [])
    if mode == "upsert" and not pk:
        raise PlanError("write mode 'upsert' needs a primary_key (a column or a list of columns)", "write_mode")
    if len(set(pk)) != len(pk):
        raise PlanError("primary_key lists a column twice", "primary_key")
    return pk


def _check_key_columns(pk: list[str], cols: list[dict[str, Any]] | None) -> None:
    """PlanError for a key column that is not among the known input columns."""
    if cols is None:
        return
    names = [c["name"] for c in cols]
    for k in pk:
        if k not in names:
            raise PlanError(
                f"primary_key column '{k}' is not among the input columns ({', '.join(names)})", "primary_key", k
            )


def _sql_plan(plan: dict[str, Any], d: Dialect, schema: str | None, table: str, strategy: str) -> dict[str, Any]:
    """``plan`` completed for a SQL target: the target and load tables, then (columns known) the load columns,
    the lossy-type warnings and the statements. PlanError for a name the dialect refuses."""
    pk = plan["primary_key"]
    _check_target_names(d, schema, table, pk)
    plan["target"] = {"schema": schema, "table": table, "qualified": d.qualify(schema, table)}
    mode = plan["mode"]
    staged = mode == "upsert" or (mode == "replace" and strategy == "staging")
    load = d.staging_name(table) if staged else table
    load_schema = d.staging_schema(schema) if staged else schema
    plan["load_table"] = {"schema": load_schema, "table": load, "qualified": d.qualify(load_schema, load)}
    cols = plan["columns"]
    if cols is None:
        plan.update(load_columns=None, statements=None)
        return plan
    for c in cols:
        problem = d.check_ident(c["name"])
        if problem:
            raise PlanError(f"column: {problem}", "columns", c["name"])
        _, lossy = d.to_native(c["type"], c["name"] in pk)
        if lossy:
            plan["warnings"].append(f"column '{c['name']}' ({c['type']}): {lossy}")
    plan["load_columns"] = [c["name"] for c in cols]
    plan["statements"] = d.write_statements(plan)
    return plan


def _check_target_names(d: Dialect, schema: str | None, table: str, pk: list[str]) -> None:
    """PlanError for a schema, table or key column name the dialect refuses."""
    for part, key in ((schema, "schema"), (table, "table")):
        if part is not None:
            problem = d.check_ident(str(part))
            if problem:
                raise PlanError(f"{key}: {problem}", key)
    for k in pk:
        if d.check_ident(k):
            raise PlanError(f"primary_key: {d.check_ident(k)}", "primary_key", k)


def load_directly(write_plan: Mapping[str, Any]) -> dict[str, Any]:
    """The plan for a target this run creates or found empty under its write lock: the bulk load goes straight into
    the target and no statement empties it (`replace` needs no staging table then). Other modes are returned as
    they are: append and truncate load into the target anyway, and an upsert keeps its staging table (it keeps the
    LAST row of a key that appears twice in the input, which a load into the keyed target would refuse)."""
    plan = dict(write_plan)
    if plan["mode"] != "replace" or plan.get("columns") is None:
        return plan
    plan.update(load_table=dict(plan["target"]), empty=True)
    plan["statements"] = dialect(plan["dialect"]).write_statements(plan)
    return plan


def retarget(write_plan: Mapping[str, Any], schema: str | None) -> dict[str, Any]:
    """The same write plan for the target schema ``schema`` (a connection's ``schema`` that the step's config does
    not override, known only when the run resolves the connection: docs/ddl.md); PlanError for a bad name."""
    plan = dict(write_plan)
    if plan["dialect"] == "csv" or plan["target"].get("schema") == schema:
        return plan
    return plan_write(
        plan["dialect"],
        {"schema": schema, "table": plan["target"]["table"]},
        plan["mode"],
        plan.get("columns"),
        plan.get("primary_key") or None,
        schema_evolution=plan.get("schema_evolution", "fail"),
        create_if_missing=plan.get("create_if_missing", True),
        replace_strategy=plan.get("replace_strategy"),
    )


def _columns(columns: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    if columns is None:
        return None
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in columns:
        name = str(c["name"])
        if name in seen:
            raise PlanError(f"column '{name}' appears twice", "columns", name)
        seen.add(name)
        try:
            type_text = normalize(str(c["type"]))
        except TypeParseError as exc:
            raise PlanError(str(exc), "columns", name) from None
        out.append({"name": name, "type": type_text, "nullable": bool(c.get("nullable", True))})
    return out


def check_existing(dialect_name: str, conn: Any, write_plan: Mapping[str, Any]) -> TableCheck:
    """Compare the existing target table (on an open connection) with the plan; see docs/ddl.md."""
    return dialect(dialect_name).check_existing(conn, dict(write_plan))
