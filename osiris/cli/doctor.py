"""``connections doctor``: connect to each alias and say what works and what does not, one line per problem.

Connections are made exactly as a run makes them (``connections.libpq_params`` / ``mysql_params``: every field
explicit, nothing from PG*/MYSQL* variables or option files), with a short time-out, read-only: the privilege
checks ask the server's catalogue (``has_table_privilege``, information_schema) and describe extract queries
with ``LIMIT 0``; nothing is created or written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

WRITER_NEEDS = {  # write mode -> privileges on an existing target table, beyond INSERT
    "append": (),
    "replace": ("DELETE",),
    "truncate": ("DELETE",),
    "upsert": ("UPDATE",),
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _steps_by_ref(pipeline: str | None) -> dict[str, list[dict[str, Any]]]:
    """Plan steps of ``pipeline`` grouped by the connection they use (``@family.alias``; None alias = default)."""
    if pipeline is None:
        return {}
    from osiris.backends.local.plan import build_plan
    from osiris.compile import compile_file
    from osiris.runtime.errors import RunError

    result = compile_file(pipeline)
    if result.failed or result.pipeline is None or result.ctx is None:
        raise RunError("OSR-E300", f"'{pipeline}' does not check clean: run `osirisc check {pipeline}` first")
    plan = build_plan(result.pipeline, result.ctx)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for step in plan["steps"]:
        conn = step.get("connection")
        if conn:
            grouped.setdefault(f"@{conn['family']}.{conn.get('alias') or ''}", []).append(step)
    return grouped


def doctor(conns: Any, refs: Iterable[str], pipeline: str | None, timeout: int) -> list[dict[str, Any]]:
    from osiris.runtime.errors import RunError

    steps = _steps_by_ref(pipeline)
    wanted = list(refs) or [f"@{f}.{a}" for f, aliases in sorted(conns.data.items()) for a in sorted(aliases)]
    results = []
    for ref in wanted:
        family, _, alias = ref.removeprefix("@").partition(".")
        result: dict[str, Any] = {"ref": ref, "ok": True, "checks": [], "problems": []}
        try:
            name = conns.choose(family, alias or None)
            result["ref"] = f"@{family}.{name}"
            fields = conns.resolve(family, name)
        except RunError as exc:
            result.update(ok=False, problems=[conns.redactor.text(exc.message)])
            results.append(result)
            continue
        using = steps.get(f"@{family}.{name}", []) + (
            steps.get(f"@{family}.", []) if _is_default(conns, family, name) else []
        )
        _check(family, fields, [_as_run(step, fields) for step in using], timeout, result)
        result["problems"] = [conns.redactor.text(p) for p in result["problems"]]
        result["checks"] = [conns.redactor.text(c) for c in result["checks"]]
        result["ok"] = not result["problems"]
        results.append(result)
    return results


def _as_run(step: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The step as a run with this connection executes it: its write plan and its source in the connection's
    ``schema`` when the step sets none (``engine._preflight`` re-targets the same way)."""
    from osiris.dialects import PlanError, retarget
    from osiris.runtime.connections import connection_schema

    config = step.get("config") or {}
    schema = connection_schema(config, fields)
    if schema is None:
        return step
    out = {**step, "config": {**config, "schema": schema}}
    if step.get("write"):
        with contextlib.suppress(PlanError):  # the run refuses it first (OSR-E316); `osirisc check` at the field
            out["write"] = retarget(step["write"], schema)
    return out


def _is_default(conns: Any, family: str, name: str) -> bool:
    try:
        return bool(conns.choose(family, None) == name)
    except Exception:
        return False


def _check(family: str, fields: dict[str, Any], steps: list[dict[str, Any]], timeout: int, out: dict[str, Any]) -> None:
    from osiris.components.registry import default_registry
    from osiris.runtime.connections import SERVER_DIALECTS, route_problems

    dialect = default_registry().dialect_of_family(family)
    if dialect is None or dialect not in SERVER_DIALECTS:
        out["checks"].append(f"family '{family}' has no server to connect to (nothing to test)")
        return
    problems = route_problems(dialect, fields)
    if problems:
        out["problems"] += [f"field '{f}' {p}; {fix}" for f, p, fix in problems]
        return
    try:
        if dialect == "postgres":
            _postgres(fields, steps, timeout, out)
        else:
            _mysql(fields, steps, timeout, out)
    except Exception as exc:  # the server's or the driver's refusal, first line (never a credential)
        out["problems"].append(f"cannot connect: {_first_line(exc)}")


def _postgres(fields: dict[str, Any], steps: list[dict[str, Any]], timeout: int, out: dict[str, Any]) -> None:
    import psycopg

    from osiris.runtime.connections import libpq_params

    params: dict[str, Any] = {**libpq_params(fields), "connect_timeout": str(timeout)}
    with psycopg.connect(autocommit=True, **params) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        out["server"] = f"PostgreSQL {version[0] if version else '?'}"
        out["tls"] = bool(conn.pgconn.ssl_in_use)
        user = conn.execute("SELECT current_user").fetchone()
        out["checks"].append(f"connected as {user[0] if user else '?'}")
        for step in steps:
            _postgres_step(conn, step, out)


def _postgres_step(conn: Any, step: dict[str, Any], out: dict[str, Any]) -> None:
    sid = step["id"]
    write = step.get("write")
    if write:
        schema = write["target"].get("schema") or "public"
        table = write["target"]["table"]
        qualified = f'"{schema}"."{table}"'
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()[0]
        if exists:
            needs = ("INSERT", *WRITER_NEEDS.get(write["mode"], ()))
            missing = [
                p for p in needs if not conn.execute("SELECT has_table_privilege(%s, %s)", (qualified, p)).fetchone()[0]
            ]
        else:
            ok = conn.execute("SELECT has_schema_privilege(%s, 'CREATE')", (schema,)).fetchone()[0]
            missing = [] if ok else [f"CREATE on schema {schema}"]
        temp = conn.execute("SELECT has_database_privilege(current_database(), 'TEMP')").fetchone()[0]
        if write["mode"] in ("replace", "upsert") and not temp:
            missing.append("TEMP on the database (staging tables)")
        _verdict(out, sid, f"{write['mode']} into {schema}.{table}", missing)
        return
    _extract_check(conn, step, out, conn.execute)


def _mysql(fields: dict[str, Any], steps: list[dict[str, Any]], timeout: int, out: dict[str, Any]) -> None:
    import pymysql

    from osiris.runtime.connections import mysql_params

    params = mysql_params(fields)
    conn = pymysql.connect(**params, connect_timeout=timeout, read_default_file=None, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION(), CURRENT_USER()")
            version, user = cur.fetchone()
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            row = cur.fetchone()
        out["server"] = f"MariaDB/MySQL {version}"
        out["tls"] = bool(row and row[1])
        out["checks"].append(f"connected as {user}")
        for step in steps:
            _mysql_step(conn, user, params.get("database"), step, out)
    finally:
        conn.close()


def _mysql_privileges(cur: Any, user: str, schema: str, table: str) -> set[str]:
    name, _, host = user.rpartition("@")
    grantee = f"'{name}'@'{host}'"
    cur.execute(
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s "
        "UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = %s "
        "AND %s LIKE TABLE_SCHEMA "
        "UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = %s "
        "AND TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (grantee, grantee, schema, grantee, schema, table),
    )
    return {r[0] for r in cur.fetchall()}


def _mysql_step(conn: Any, user: str, database: Any, step: dict[str, Any], out: dict[str, Any]) -> None:
    write = step.get("write")
    if not write:

        def run(sql: str) -> None:
            with conn.cursor() as cur:
                cur.execute(sql)

        _extract_check(conn, step, out, run)
        return
    schema = write["target"].get("schema") or database
    table = write["target"]["table"]
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema, table),
        )
        exists = cur.fetchone()[0] > 0
        have = _mysql_privileges(cur, user, str(schema), table)
    needs = ["INSERT", *WRITER_NEEDS.get(write["mode"], ())] if exists else ["CREATE", "INSERT"]
    if write["mode"] in ("replace", "upsert"):
        needs.append("CREATE TEMPORARY TABLES")
    _verdict(out, step["id"], f"{write['mode']} into {schema}.{table}", [p for p in needs if p not in have])


def _extract_check(conn: Any, step: dict[str, Any], out: dict[str, Any], run: Any) -> None:
    """An extractor's query (or table) described with LIMIT 0: proves SELECT on everything it reads."""
    config = step.get("config") or {}
    query = config.get("query")
    if not isinstance(query, str):
        table = config.get("table")
        if not isinstance(table, str):
            return
        from osiris.dialects.lock import source_select

        # the SELECT the extractor runs (its schema, the connection's, quoted), when the plan names the dialect
        found = source_select(step["dialect"], config) if step.get("dialect") in ("postgres", "mysql") else None
        query = found or f"SELECT * FROM {table}"
    try:
        run(f"SELECT * FROM ({query.strip().rstrip(';')}) AS osiris_doctor LIMIT 0")
    except Exception as exc:
        if hasattr(conn, "rollback"):
            conn.rollback()
        out["problems"].append(f"step '{step['id']}' cannot read: {_first_line(exc)}")
        return
    out["checks"].append(f"step '{step['id']}': can read its source")


def _verdict(out: dict[str, Any], sid: str, what: str, missing: list[str]) -> None:
    if missing:
        out["problems"].append(f"step '{sid}' ({what}) lacks {', '.join(missing)}")
    else:
        out["checks"].append(f"step '{sid}': may {what}")
