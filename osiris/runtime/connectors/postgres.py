"""PostgreSQL (and Supabase's Postgres): connecting with retries, streaming reads (writes: ``pgwrite``).

Reads use a named (server-side) cursor and map column types to exact Arrow types.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute

from osiris.runtime import connections
from osiris.runtime.connectors import pgcopy, secrets_of, step_error, with_retries
from osiris.runtime.driver import StepContext, StepError


def params(config: Mapping[str, Any], connection: Mapping[str, Any] | None) -> dict[str, Any]:
    """Explicit libpq keywords (``connections.libpq_params``) from the connection, overridden by the step's
    config; no environment variable or password file fills a missing field."""
    merged = {**(connection or {}), **{k: v for k, v in config.items() if v is not None}}
    if config.get("timeout") is not None:  # supabase components' name for it
        merged["connect_timeout"] = config["timeout"]
    try:
        return connections.libpq_params(merged)
    except ValueError as exc:
        raise StepError(str(exc)) from None


def attempts(config: Mapping[str, Any]) -> int:
    """Connection attempts: one, plus the config's ``retries`` (supabase components; default 3)."""
    retries = config.get("retries")
    return 1 + (3 if retries is None else int(retries))


def describe_target(p: Mapping[str, Any]) -> str:
    return f"postgres database '{p.get('dbname', '?')}' on {p.get('host', 'dsn host')}"


def _retryable(exc: Exception) -> bool:
    import psycopg

    text = str(exc).lower()
    if "authentication" in text or "does not exist" in text or "permission" in text:
        return False
    return isinstance(exc, psycopg.OperationalError)


def connect(p: Mapping[str, Any], *, autocommit: bool = False, tries: int = 4) -> Any:
    import psycopg

    kw = dict(p)
    conninfo = kw.pop("conninfo", "")
    return with_retries(lambda: psycopg.connect(conninfo, autocommit=autocommit, **kw), _retryable, tries)


# -- planning (shared by the SQL writers) ------------------------------------------------------------------
def resolve_plan(step: Mapping[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """The step's write plan; planned now from the input schema when it was unknown at build time."""
    plan = step.get("write")
    if not plan:
        raise StepError("the plan has no write object for this step")
    if plan.get("columns") is None or plan.get("statements") is None:
        from osiris import dialects

        target = {"schema": plan["target"].get("schema"), "table": plan["target"]["table"]}
        try:
            plan = dialects.plan_write(
                plan["dialect"], target, plan["mode"], dialects.columns_from_arrow(schema), plan.get("primary_key"),
                schema_evolution=plan.get("schema_evolution", "fail"),
                create_if_missing=plan.get("create_if_missing", True),
                replace_strategy=plan.get("replace_strategy"),
            )  # fmt: skip
        except dialects.PlanError as exc:
            raise StepError(f"cannot plan the write: {exc}") from None
    return dict(plan)


# -- reading ----------------------------------------------------------------------------------------------------
_ARROW = {16: pa.bool_(), 17: pa.binary(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(),
          700: pa.float32(), 701: pa.float64(), 1082: pa.date32(), 1083: pa.time64("us"),
          1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC")}  # fmt: skip


def arrow_type(oid: int, precision: int | None, scale: int | None) -> pa.DataType:
    """Exact Arrow type of a result column (numeric with declared precision -> decimal; anything else -> text)."""
    if oid == pgcopy.NUMERIC:
        if precision:
            return pa.decimal128(precision, scale or 0) if precision <= 38 else pa.decimal256(precision, scale or 0)
        return pa.string()  # unconstrained numeric: text keeps every digit
    return _ARROW.get(oid, pa.string())


def _texts(conn: Any, oids: set[int]) -> None:
    """Load the columns Arrow keeps as text (json, uuid, numeric without typmod, unknown types) as their text."""
    from psycopg.types.string import TextLoader

    for oid in oids:
        conn.adapters.register_loader(oid, TextLoader)


def read(ctx: StepContext, query: str, batch_size: int, query_params: list[Any] | None = None) -> pa.RecordBatchReader:
    """Stream ``query`` (with ``%s`` parameters ``query_params``) through a named cursor as Arrow batches."""
    p = params(ctx.config, ctx.connection)
    secrets = secrets_of(p, ctx.connection, ctx.config)
    target = describe_target(p)
    try:
        conn = connect(p, tries=attempts(ctx.config))
        conn.execute("SET TIME ZONE 'UTC'")
        probe = conn.execute(f"SELECT * FROM ({query}) AS osiris_q LIMIT 0", query_params)
        desc = probe.description or []
        fields = [pa.field(d.name, arrow_type(d.type_code, d.precision, d.scale)) for d in desc]
        _texts(conn, {d.type_code for d, f in zip(desc, fields, strict=True) if pa.types.is_string(f.type)})
        cur = conn.cursor(name="osiris_extract")
        cur.itersize = batch_size
        cur.execute(query, query_params)
    except Exception as exc:
        raise step_error("extract from", target, exc, secrets) from None
    schema = pa.schema(fields)
    unhook = ctx.cancel.add_hook(conn.cancel)  # a cancelled run interrupts a slow FETCH

    def release() -> None:
        unhook()
        conn.close()

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            while rows := cur.fetchmany(batch_size):
                cols = list(zip(*rows, strict=True))
                yield pa.RecordBatch.from_arrays(
                    [_array(list(c), f) for c, f in zip(cols, fields, strict=True)], schema=schema
                )
        except StepError:
            raise
        except Exception as exc:
            raise step_error("extract from", target, exc, secrets) from None
        finally:
            release()

    return pa.RecordBatchReader.from_batches(schema, _Releasing(batches(), release))


class _Releasing:
    """An iterator that runs ``release`` when it is dropped, read or not: a reader closed before its first batch
    (a drifted source) must not leave the connection, and the locks of its open transaction, behind."""

    def __init__(self, inner: Iterator[pa.RecordBatch], release: Any):
        self._inner = inner
        self._release = release

    def __iter__(self) -> _Releasing:
        return self

    def __next__(self) -> pa.RecordBatch:
        return next(self._inner)

    def __del__(self) -> None:
        self._release()


def _array(values: list[Any], field: pa.Field) -> pa.Array:
    try:
        if pa.types.is_string(field.type):
            return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], pa.string())
        if pa.types.is_decimal(field.type):
            if any(isinstance(v, str) for v in values):  # numeric loaded as text (an unconstrained one is present)
                return pa.compute.cast(pa.array(values, pa.string()), field.type)
            return pa.array([v if v is None or v.is_finite() else _nan(field.name) for v in values], field.type)
        return pa.array(values, field.type)
    except (pa.ArrowInvalid, OverflowError, decimal.InvalidOperation) as exc:
        raise StepError(f"column '{field.name}': cannot read a value as {field.type}: {exc}") from None


def _nan(name: str) -> Any:
    raise StepError(f"column '{name}': NaN/Infinity numeric has no Arrow decimal form")
