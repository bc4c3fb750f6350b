"""The schema lock: ``<pipeline>.schema.lock.json``, written by ``osirisc introspect``, read by ``infer_schemas``.

Deterministic JSON (sorted keys, two-space indent, no timestamps)::

    {"lock_version": 1, "steps": {"extract-movies": {"component": "mysql.extractor",
        "source": "SELECT * FROM movies", "columns": [{"name": "id", "type": "int64", "nullable": false}]}}}

At run time an extractor calls ``check_drift(entry, arrow_schema)`` on its reader's schema before any data moves:
a source that no longer matches the lock is a schema-drift error.
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


def check_drift(entry: Mapping[str, Any], schema: pa.Schema) -> str | None:
    """None when ``schema`` (what the source gives now) matches the locked columns, else what changed."""
    locked = [(str(c["name"]), str(c["type"])) for c in entry["columns"]]
    now = [(f.name, from_arrow(f.type)) for f in schema]
    if [n for n, _ in locked] != [n for n, _ in now]:
        return (
            f"columns changed: locked ({', '.join(n for n, _ in locked)}), "
            f"source now has ({', '.join(n for n, _ in now)})"
        )
    changed = [
        f"'{n}' {t} -> {u}" for (n, t), (_, u) in zip(locked, now, strict=True) if _SAME.get(t, t) != _SAME.get(u, u)
    ]
    if changed:
        return "column types changed: " + ", ".join(changed)
    return None


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
