"""PostgreSQL (and Supabase's Postgres) writes: the write plan of docs/ddl.md in ONE transaction.

The transaction first bounds every lock wait (``SET LOCAL lock_timeout``) and takes an advisory lock keyed on
the target (``pg_advisory_xact_lock``), so two runs writing one table run one after the other instead of
interleaving (a doubled ``replace``, two colliding ``CREATE TABLE``); then it checks the existing table, runs
``prepare``, binary ``COPY``s the Arrow batches into ``load_table`` (the target itself when a ``replace`` finds
it new or empty: ``choose_load``) (``pgcopy``, vectorised), runs ``finalize``
and commits. Any failure rolls everything back. The statements executed (never row data) are reported as a
``ddl`` event, recorded in ``<run>/ddl/<step>.sql``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.runtime import incremental
from osiris.runtime.connectors import pgcopy, postgres, scrub, secrets_of, step_error
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.streams import UpstreamFailed

LOCK_TIMEOUT = 30  # seconds; the writers' `lock_timeout` default


def lock_timeout_of(config: Mapping[str, Any]) -> float:
    value = config.get("lock_timeout")
    return float(LOCK_TIMEOUT if value is None else value)


def _load_oids(cur: Any, qualified: str, columns: list[str]) -> list[int]:
    cur.execute(
        "SELECT attname, atttypid::int FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (qualified,),
    )
    types = dict(cur.fetchall())
    missing = [c for c in columns if c not in types]
    if missing:
        raise StepError(f"load table {qualified} has no column(s) {', '.join(missing)}")
    return [int(types[c]) for c in columns]


def copy_statement(plan: Mapping[str, Any]) -> str:
    quoted = ", ".join('"' + n.replace('"', '""') + '"' for n in plan["load_columns"])
    return f"COPY {plan['load_table']['qualified']} ({quoted}) FROM STDIN (FORMAT BINARY)"


def _copy(cur: Any, plan: Mapping[str, Any], reader: pa.RecordBatchReader, ctx: StepContext) -> int:
    """COPY the input into the load table: binary, vectorised when every target type has an encoder."""
    names = list(plan["load_columns"])
    missing = [n for n in names if n not in reader.schema.names]
    if missing:
        raise StepError(f"input has no column(s) {', '.join(missing)} for {plan['target']['qualified']}")
    oids = _load_oids(cur, plan["load_table"]["qualified"], names)
    fast = pgcopy.supported(oids)
    rows = 0
    with cur.copy(copy_statement(plan)) as copy:
        if fast:
            copy.write(pgcopy.HEADER)
        else:
            copy.set_types(oids)
        for whole in reader:
            batch = whole.select(names)
            if fast:
                try:
                    copy.write(pgcopy.encode_batch(batch, oids))
                except (pa.ArrowInvalid, ValueError, OverflowError) as exc:
                    raise StepError(f"a value does not fit the target column: {exc}") from None
            else:
                for row in zip(*(col.to_pylist() for col in batch.columns), strict=True):
                    copy.write_row(row)
            rows += batch.num_rows
            ctx.progress(batch.num_rows, batch.nbytes)
        if fast:
            copy.write(pgcopy.TRAILER)
    return rows


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def lock_key(plan: Mapping[str, Any], schema: str) -> str:
    """The advisory lock's key (SQL), from the schema-qualified name: ``t`` and ``public.t`` are one lock."""
    name = f"osiris write {schema}.{plan['target']['table']}"
    return f"hashtextextended({_literal(name)}, 0)"


def _lock(cur: Any, plan: Mapping[str, Any], seconds: float, schema: str, *, ctx: StepContext, done: list[str]) -> None:
    """Bound every lock wait of this transaction, then take the target's advisory lock (held until COMMIT or
    ROLLBACK); when another run holds it, say so and wait. Appends the statements executed to ``done``."""
    key = lock_key(plan, schema)
    done.append(f"SET LOCAL lock_timeout = '{max(1, round(seconds * 1000))}ms'")
    cur.execute(done[-1])
    done.append(f"SELECT pg_try_advisory_xact_lock({key})")
    if not cur.execute(done[-1]).fetchone()[0]:
        message = f"another run is writing {schema}.{plan['target']['table']}; waiting up to {seconds:g} s for it"
        ctx.event("info", {"step": ctx.step_id, "message": message})
        done.append(f"SELECT pg_advisory_xact_lock({key})")
        cur.execute(done[-1])


def _describe(exc: Exception) -> str:
    """A driver error on one line, keeping what the server said about the cause (DETAIL names the key of a
    unique violation, HINT and CONTEXT say where)."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    parts = [primary]
    for label in ("detail", "hint", "context"):
        text = getattr(diag, f"message_{label}", None) or ""
        if text.strip():
            parts.append(f"{label.upper()}: {' '.join(text.split())}")
    return f"{type(exc).__name__}: " + "; ".join(parts)


def choose_load(cur: Any, plan: Mapping[str, Any], check: Any, *, done: list[str]) -> dict[str, Any]:
    """The load path, from what is true now (under the write lock): a `replace` into a table this run creates or
    finds empty loads straight into it (``dialects.load_directly``: no staging table, no second copy). Emptiness
    is probed, then the table is locked against other writers (EXCLUSIVE: readers go on) and probed again, so no
    row another session commits meanwhile can survive the replace."""
    from osiris import dialects

    if plan["mode"] != "replace":
        return dict(plan)
    if check.status == "create":
        return dialects.load_directly(plan)
    target = plan["target"]["qualified"]
    probe = f"SELECT NOT EXISTS (SELECT 1 FROM {target})"
    done.append(probe)
    if not cur.execute(probe).fetchone()[0]:
        return dict(plan)
    done.append(f"LOCK TABLE {target} IN EXCLUSIVE MODE")
    cur.execute(done[-1])
    done.append(probe)
    return dialects.load_directly(plan) if cur.execute(probe).fetchone()[0] else dict(plan)


def run_plan(
    conn: Any,
    plan: Mapping[str, Any],
    reader: pa.RecordBatchReader,
    ctx: StepContext,
    *,
    lock_timeout: float,
    executed: list[str],
) -> int:
    """Execute the write plan on ``conn`` in one transaction; returns the rows loaded. Every statement run is
    appended to ``executed`` (COMMIT or ROLLBACK last). The transaction is: lock, check, choose the load path,
    prepare, load, finalize, the incremental state (``incremental.before_commit``), COMMIT.
    Rolls back on any error; a failure of the upstream stream (``UpstreamFailed``) propagates as it is, anything
    else becomes a StepError."""
    import psycopg

    from osiris import dialects

    target = plan["target"]
    step = "lock"
    name = target["table"]
    try:
        with conn.cursor() as cur:
            schema = target.get("schema") or cur.execute("SELECT current_schema()").fetchone()[0]
            name = f"{schema}.{target['table']}"
            _lock(cur, plan, lock_timeout, str(schema), ctx=ctx, done=executed)
            step = "check"
            result = dialects.check_existing(plan["dialect"], conn, plan)
            if result.status in ("incompatible", "missing"):
                raise StepError(result.message or f"target table is {result.status}")
            plan = choose_load(cur, plan, result, done=executed)
            step = "prepare"
            for sql in [*result.statements, *plan["statements"]["prepare"]]:
                executed.append(sql)
                cur.execute(sql)
            step = "load"
            executed.append(copy_statement(plan))
            rows = _copy(cur, plan, reader, ctx)
            step = "finalize"
            for sql in plan["statements"]["finalize"]:
                executed.append(sql)
                cur.execute(sql)
            incremental.before_commit(ctx, cur, executed)  # the sources' new marks, with the rows
        step = "commit"
        conn.commit()
        executed.append("COMMIT")
        return rows
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.rollback()
            executed.append("ROLLBACK")
        waited = f"{lock_timeout:g}"
        if isinstance(exc, psycopg.errors.LockNotAvailable) and step == "lock":
            raise StepError(f"another run is writing {name} (waited {waited} s for its lock)") from None
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            raise StepError(f"another session holds a lock on {name} (waited {waited} s for its lock)") from None
        if isinstance(exc, StepError):
            raise StepError(f"{step} {target['qualified']}: {exc}", retryable=exc.retryable) from None
        if isinstance(exc, Exception) and not isinstance(exc, UpstreamFailed):
            raise StepError(f"{step} {target['qualified']}: {_describe(exc)}") from None
        raise


def write(step: Mapping[str, Any], ctx: StepContext, reader: pa.RecordBatchReader) -> int:
    """The whole writer: connect (retrying transient failures), execute the plan, close; the statements run are
    reported as a ``ddl`` event whether the write committed or rolled back. Messages are scrubbed."""
    p = postgres.params(ctx.config, ctx.connection)
    secrets = secrets_of(p, ctx.connection, ctx.config)
    plan = postgres.resolve_plan(step, reader.schema)
    target = f"{plan['target']['qualified']} in {postgres.describe_target(p)}"
    seconds = lock_timeout_of(ctx.config)
    try:
        conn = postgres.connect(p, tries=postgres.attempts(ctx.config))
    except Exception as exc:
        raise step_error("connect to", target, exc, secrets, retryable=True) from None
    executed: list[str] = []
    try:
        with ctx.cancel.hook(conn.cancel):  # a cancelled run interrupts the statement (or lock wait) in progress
            rows = run_plan(conn, plan, reader, ctx, lock_timeout=seconds, executed=executed)
    except StepError as exc:
        raise StepError(scrub(str(exc), secrets), retryable=exc.retryable) from None
    finally:
        conn.close()
        _record(ctx, plan, executed)
    ctx.event("info", {"step": ctx.step_id, "message": f"loaded {rows} rows into {plan['target']['qualified']}"})
    return rows


def _record(ctx: StepContext, plan: Mapping[str, Any], executed: list[str]) -> None:
    if executed:
        ctx.event("ddl", {"statements": executed, "target": plan["target"]["qualified"]})
