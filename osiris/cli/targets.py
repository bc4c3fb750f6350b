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
from osiris.secrets import Masker, replace_markers, secret_values

masker = Masker()  # every secret value a build-time connection resolved; messages about targets pass through it


class ConnectError(Exception):
    """A connection that could not be made; the message names the step, never a credential.

    ``missing`` is True when the target simply does not exist yet (a DuckDB file a run would create)."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(masker.text(message))
        self.missing = missing


def _connection_fields(config: Mapping[str, Any], base: Path) -> dict[str, Any]:
    ref = config.get("connection")
    if isinstance(ref, dict):
        ref = ref.get("$connection")
    if not isinstance(ref, str):
        return {}
    from osiris.runtime.connections import Connections, find_file

    env = dict(os.environ)
    conns = Connections.load(find_file(None, base, env), env, masker)
    family, _, alias = ref.lstrip("@").partition(".")
    return conns.resolve(family, alias or None)


def connection_schema(step: nodes.Step, base: Path) -> str | None:
    """The schema the step's connection gives it when its config sets none (``schema`` in the alias, as a run
    resolves it), or None: no connection, no connections file, no ``schema`` there, or a problem the run reports."""
    config = nodes.plain(step.config)
    if not isinstance(config, dict) or config.get("schema") is not None:
        return None
    from osiris.runtime.connections import connection_schema as of
    from osiris.runtime.errors import RunError

    try:
        return of(config, _connection_fields(config, base))
    except RunError:
        return None


def _value(marker: Mapping[str, Any], fields: Mapping[str, Any]) -> Any:
    value = os.environ.get(marker["name"]) if marker.get("source") == "env" else fields.get(marker["name"])
    if isinstance(value, str):
        masker.add(value)
    return value


def connect(step: nodes.Step, dialect: str | None, base: Path) -> Any:
    """An open connection for a database step whose spec says ``dialect``, every parameter explicit
    (``osiris.runtime.connections``: no PG*/MYSQL* variable, password or option file fills a gap). Raises
    ConnectError."""
    if dialect not in ("postgres", "mysql", "duckdb"):
        raise ConnectError(f"step '{step.id}': {step.component} has no database to connect to")
    config = nodes.plain(step.config)
    assert isinstance(config, dict)
    try:
        from osiris.runtime import connections

        fields = _connection_fields(config, base)
        resolved = replace_markers({k: v for k, v in config.items() if k != "connection"}, lambda m: _value(m, fields))
        merged = {**fields, **{k: v for k, v in resolved.items() if v is not None}}
        masker.add_all(secret_values(merged))
        if dialect == "duckdb":
            import duckdb

            path = Path(str(merged.get("path", "")))
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise ConnectError(f"step '{step.id}': DuckDB file {merged.get('path')} does not exist", missing=True)
            return duckdb.connect(str(path), read_only=True)
        try:
            params: dict[str, Any] = (
                connections.mysql_params(merged) if dialect == "mysql" else connections.libpq_params(merged)
            )
        except ValueError as exc:  # no explicit route: refused, like a run would be (OSR-E316)
            ref = config.get("connection")
            ref = ref.get("$connection") if isinstance(ref, dict) else ref
            raise ConnectError(f"step '{step.id}': {ref or 'connection'}: {exc}") from None
        if dialect == "mysql":
            import pymysql

            return pymysql.connect(**params, connect_timeout=10)
        import psycopg

        return psycopg.connect(**params)
    except ConnectError:
        raise
    except Exception as exc:  # driver errors of three libraries; the class name and first line are enough
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConnectError(f"step '{step.id}': cannot connect ({type(exc).__name__}: {first})") from None
