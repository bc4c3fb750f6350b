"""Open database connections for build-time commands (``introspect``, ``plan --against``), read-only in intent.

Connection fields come from the step's config and its ``@family.alias`` connection (``osiris_connections.yaml``,
found like the runtime finds it); secret markers are resolved from the environment only here, in memory.
Messages never include a resolved value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osiris.ir import nodes

DIALECT_OF = {
    "mysql.extractor": "mysql",
    "mysql.writer": "mysql",
    "postgres.extractor": "postgres",
    "postgres.writer": "postgres",
    "supabase.extractor": "postgres",
    "supabase.writer": "postgres",
    "duckdb.extractor": "duckdb",
    "duckdb.writer": "duckdb",
}


_SECRET_KEYS = ("password", "pg_dsn", "key", "service_role_key", "token", "dsn")


class ConnectError(Exception):
    """A connection that could not be made; the message names the step, never a credential.

    ``missing`` is True when the target simply does not exist yet (a DuckDB file a run would create)."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def _connection_fields(config: Mapping[str, Any], base: Path) -> dict[str, Any]:
    ref = config.get("connection")
    if isinstance(ref, dict):
        ref = ref.get("$connection")
    if not isinstance(ref, str):
        return {}
    from osiris.runtime.connections import Connections, find_file
    from osiris.runtime.redact import Redactor

    env = dict(os.environ)
    conns = Connections.load(find_file(None, base, env), env, Redactor())
    family, _, alias = ref.lstrip("@").partition(".")
    return conns.resolve(family, alias or None)


def _value(v: Any, fields: Mapping[str, Any]) -> Any:
    if isinstance(v, dict) and "$secret" in v:
        secret = v["$secret"]
        if secret.get("source") == "env":
            return os.environ.get(secret["name"])
        return fields.get(secret["name"])
    return v


def connect(step: nodes.Step, base: Path) -> tuple[str, Any]:
    """(dialect, open connection) for a database step. Raises ConnectError."""
    dialect = DIALECT_OF.get(step.component)
    if dialect is None:
        raise ConnectError(f"step '{step.id}': {step.component} has no database to connect to")
    config = nodes.plain(step.config)
    assert isinstance(config, dict)
    merged: dict[str, Any] = {}
    try:
        fields = _connection_fields(config, base)
        merged = {**fields, **{k: _value(v, fields) for k, v in config.items() if k != "connection"}}
        if dialect == "duckdb":
            import duckdb

            path = Path(str(merged.get("path", "")))
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise ConnectError(f"step '{step.id}': DuckDB file {merged.get('path')} does not exist", missing=True)
            return dialect, duckdb.connect(str(path), read_only=True)
        if dialect == "mysql":
            import pymysql

            return dialect, pymysql.connect(
                host=merged.get("host", "localhost"),
                port=int(merged.get("port", 3306)),
                user=merged.get("user"),
                password=merged.get("password") or "",
                database=merged.get("database"),
                connect_timeout=10,
            )
        import psycopg

        if merged.get("pg_dsn"):
            return dialect, psycopg.connect(merged["pg_dsn"], connect_timeout=10)
        return dialect, psycopg.connect(
            host=merged.get("host"),
            port=int(merged.get("port", 5432)),
            dbname=merged.get("database"),
            user=merged.get("user"),
            password=merged.get("password"),
            connect_timeout=10,
        )
    except ConnectError:
        raise
    except Exception as exc:  # driver errors of three libraries; the class name and first line are enough
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        for key, value in merged.items():  # never echo a credential a driver put in its message
            if isinstance(value, str) and value and key in _SECRET_KEYS:
                first = first.replace(value, "********")
        raise ConnectError(f"step '{step.id}': cannot connect ({type(exc).__name__}: {first})") from None
