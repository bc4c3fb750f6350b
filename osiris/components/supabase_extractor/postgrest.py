"""Osiris's PostgREST-style ``filter`` and ``order`` of supabase.extractor as SQL over ``table``.

osirisc reads Supabase through PostgreSQL, so the REST options become the SELECT's clauses: identifiers are
quoted, every value is a query parameter (``PARAM``, never spliced into the text). The forms (the spec's
``filter`` and ``order`` descriptions; PostgREST semantics, values compared as PostgreSQL casts the text):

- ``filter: {column: value}``, all conditions ANDed. ``value`` a string ``op.arg`` with ``op`` one of ``eq neq gt
  gte lt lte like ilike`` (``*`` in a like pattern is ``%``), ``is.null|true|false|unknown``, ``in.(a,b,"c,d")``,
  each optionally prefixed ``not.``; any other string, a number or a boolean means ``column = value``; null means
  ``IS NULL``; a list means ``IN (...)``. The other PostgREST operators are refused at check by the spec.
- ``order: "a.desc.nullslast,b"``: ``ORDER BY "a" DESC NULLS LAST, "b"``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import Any

from osiris.runtime.driver import StepError

COMPARE = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE", "ilike": "ILIKE"}
IS = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
PARAM = "\x00"  # where a parameter goes; the driver turns it into %s once the rest of the text is escaped
DIRECTION = {"asc": "ASC", "desc": "DESC", "nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _in_list(arg: str) -> list[str]:
    if not (arg.startswith("(") and arg.endswith(")")):
        raise StepError(f"filter value 'in.{arg}' must list its values in parentheses: in.(a,b)")
    inner = arg[1:-1]
    return next(csv.reader([inner], skipinitialspace=True)) if inner else []


def condition(column: str, value: Any) -> tuple[str, list[str]]:
    """One filter entry as ``(sql, params)``."""
    col = quote(column)
    if value is None:
        return f"{col} IS NULL", []
    if isinstance(value, list):
        items = [_text(v) for v in value]
        return (f"{col} IN ({', '.join([PARAM] * len(items))})", items) if items else ("FALSE", [])
    if not isinstance(value, str):
        return f"{col} = {PARAM}", [_text(value)]
    negate, rest = (True, value[4:]) if value.startswith("not.") else (False, value)
    op, dot, arg = rest.partition(".")
    if not dot or (op not in COMPARE and op not in ("is", "in")):
        return f"{col} = {PARAM}", [value]  # a plain value: equality, as Osiris's extractor did
    if op in COMPARE:
        sql, params = f"{col} {COMPARE[op]} {PARAM}", [arg.replace("*", "%") if "like" in op else arg]
    elif op == "is":
        if arg.lower() not in IS:
            raise StepError(f"filter '{column}': is.{arg} must be is.null, is.true, is.false or is.unknown")
        sql, params = f"{col} IS {IS[arg.lower()]}", []
    else:
        items = _in_list(arg)
        sql, params = (f"{col} IN ({', '.join([PARAM] * len(items))})", items) if items else ("FALSE", [])
    return (f"NOT ({sql})", params) if negate else (sql, params)


def where(filters: Mapping[str, Any] | None) -> tuple[str, list[str]]:
    """``filter`` as a WHERE condition (without the keyword) and its parameters; ``("", [])`` when empty."""
    parts: list[str] = []
    params: list[str] = []
    for column, value in (filters or {}).items():
        sql, values = condition(str(column), value)
        parts.append(sql)
        params += values
    return " AND ".join(parts), params


def order_by(order: str | None) -> str:
    """``order`` as an ORDER BY list (without the keywords); ``""`` when empty."""
    items = []
    for item in (order or "").split(","):
        if not item.strip():
            continue
        column, *mods = item.strip().split(".")
        bad = [m for m in mods if m not in DIRECTION]
        if bad or not column:
            raise StepError(f"order item '{item.strip()}' must be column[.asc|.desc][.nullsfirst|.nullslast]")
        items.append(" ".join([quote(column), *(DIRECTION[m] for m in mods)]))
    return ", ".join(items)
