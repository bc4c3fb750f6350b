"""The schema lock: ``<pipeline>.schema.lock.json``, written by ``osirisc introspect``, read by ``infer_schemas``.

Deterministic JSON (sorted keys, two-space indent, no timestamps)::

    {"lock_version": 1, "steps": {"extract-movies": {"component": "mysql.extractor",
        "source": "SELECT * FROM movies", "columns": [{"name": "id", "type": "int64", "nullable": false}]}}}

``source`` is ``source_select`` of the step's config when it was described. ``infer_schemas`` refuses an entry
whose component or source differs from the step's current ones (OSR-E211: the lock is stale). The plan marks a
schema taken from the lock (``"source": "lock"``), and at run time the runtime (``osiris.runtime.drift``) calls
``check_drift(columns, arrow_schema)`` on the extractor's stream before any batch reaches a consumer: a source
that no longer matches the lock fails the step with OSR-E206 and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

from osiris.dialects.types import from_arrow, normalize

LOCK_VERSION = 1
SUFFIX = ".schema.lock.json"
_SAME = {"json": "string", "uuid": "string"}  # Arrow carries these as strings
_SAME_IN = {"mysql": {"bool": "int8"}}


def lock_path(pipeline_file: str | Path) -> Path:
    """``pipelines/movies.yaml`` -> ``pipelines/movies.schema.lock.json``."""
    path = Path(pipeline_file)
    return path.with_name(path.name.rsplit(".", 1)[0] + SUFFIX)


def dumps(steps: Mapping[str, Any]) -> str:
    doc = {"lock_version": LOCK_VERSION, "steps": dict(steps)}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_lock(path: Path) -> dict[str, Any]:
    """The ``steps`` mapping of a lock file; ValueError when it is not a lock this version reads."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc, dict) or doc.get("lock_version") != LOCK_VERSION or not isinstance(doc.get("steps"), dict):
        raise ValueError(f"not a version {LOCK_VERSION} schema lock")
    steps: dict[str, Any] = doc["steps"]
    for step_id, entry in steps.items():
        cols = entry.get("columns") if isinstance(entry, dict) else None
        if not isinstance(cols, list):
            raise ValueError(f"step '{step_id}' has no column list")
        for c in cols:
            c["type"] = normalize(str(c["type"]))
    return steps


def source_select(dialect_name: str, config: Mapping[str, Any]) -> str | None:
    """What decides an extractor's columns: its ``query`` (trimmed, without a final ``;``), or ``SELECT <columns
    (or Osiris's ``select`` list) or *> FROM <schema.table>``; None when it has neither. Row filters (limit,
    offset, filter, order) do not change the columns and are not part of it."""
    from osiris.dialects import dialect  # avoid an import cycle with the package

    query = config.get("query")
    if isinstance(query, str) and query.strip():
        return normalize_source(query)
    table = config.get("table")
    if not isinstance(table, str) or not table:
        return None
    d = dialect(dialect_name)
    schema = config.get("schema")
    if "." in table:
        qualified = ".".join(d.quote_ident(part) for part in table.split("."))
    else:
        qualified = d.qualify(schema if isinstance(schema, str) and schema else None, table)
    columns = config.get("columns")
    names = [c for c in columns if isinstance(c, str)] if isinstance(columns, list) else []
    select = config.get("select")  # Osiris's PostgREST column list ("id,name" or "*"): plain names only
    if not names and isinstance(select, str) and select.strip() != "*":
        names = [n.strip() for n in select.split(",")]
    return f"SELECT {', '.join(d.quote_ident(c) for c in names) or '*'} FROM {qualified}"


def normalize_source(text: str) -> str:
    """A source query as compared with a lock: surrounding white space and a final ``;`` do not count."""
    return text.strip().rstrip(";").strip()


def check_drift(entry: Mapping[str, Any], schema: pa.Schema, dialect_name: str | None = None) -> str | None:
    """None when ``schema`` (what the source gives now) matches the locked ``entry["columns"]``, else what changed
    (the columns added, removed or reordered, or each column whose type changed). ``dialect_name`` is the
    source's: MySQL's BOOLEAN is TINYINT(1), which introspection calls bool and a reader may return as int8."""
    same = {**_SAME, **_SAME_IN.get(dialect_name or "", {})}
    locked = [(str(c["name"]), str(c["type"])) for c in entry["columns"]]
    now = [(f.name, from_arrow(f.type)) for f in schema]
    locked_types, now_types = dict(locked), dict(now)
    problems = []
    gone = [n for n, _ in locked if n not in now_types]
    new = [n for n, _ in now if n not in locked_types]
    if gone:
        problems.append("missing column(s) " + ", ".join(f"'{n}'" for n in gone))
    if new:
        problems.append("new column(s) " + ", ".join(f"'{n}' {t}" for n, t in now if n in new))
    changed = [
        f"'{n}' {t} -> {now_types[n]}"
        for n, t in locked
        if n in now_types and same.get(t, t) != same.get(now_types[n], now_types[n])
    ]
    if changed:
        problems.append("column type(s) changed: " + ", ".join(changed))
    if not problems and [n for n, _ in locked] != [n for n, _ in now]:
        problems.append(
            f"column order changed: locked ({', '.join(n for n, _ in locked)}), now ({', '.join(n for n, _ in now)})"
        )
    return "; ".join(problems) or None


def describe_query(dialect_name: str, conn: Any, query: str) -> list[dict[str, Any]]:
    """The columns a query returns, without reading rows (a LIMIT 0 probe into a temporary table)."""
    from osiris.dialects import dialect  # avoid an import cycle with the package

    d = dialect(dialect_name)
    body = query.strip().rstrip(";")
    if d.name == "duckdb":
        rows = conn.execute(f"DESCRIBE {body}").fetchall()
        return [{"name": r[0], "type": d.to_logical(r[1]), "nullable": r[2] != "NO"} for r in rows]
    cur = conn.cursor()
    probe = "osiris_probe"
    if d.name == "postgres":
        cur.execute(f"CREATE TEMP TABLE {probe} AS SELECT * FROM ({body}) AS q LIMIT 0")
        info = d.introspect(conn, "pg_temp", probe)
        conn.rollback()
        cols = info.columns if info else ()
        return [{"name": c.name, "type": d.to_logical(c.native), "nullable": True} for c in cols]
    cur.execute(f"CREATE TEMPORARY TABLE {probe} AS SELECT * FROM ({body}) AS q LIMIT 0")
    cur.execute(f"SHOW COLUMNS FROM {probe}")
    rows = cur.fetchall()
    cur.execute(f"DROP TEMPORARY TABLE {probe}")
    return [{"name": r[0], "type": d.to_logical(r[1]), "nullable": r[2] == "YES"} for r in rows]
