"""plan_ddl: for every writer, its target and the exact statements of its write mode (docs/ddl.md).

Reads the writer's config (``table``, ``schema``, ``write_mode``, ``primary_key``, ``create_if_missing``,
``schema_evolution``, ``replace_strategy``; Osiris's mysql.writer spellings ``mode``, ``upsert_keys``, ``create_table``,
``truncate_before`` too) and its input columns from ``infer_schemas``, and sets ``Step.write`` to
``osiris.dialects.plan_write(...)``. Unknown columns give a plan with ``columns: null``: the writer completes it at
run time with the same function. Lossy type mappings are warnings at the column.

Before: ``write out (postgres.writer, table: stats, write_mode: upsert, primary_key: id)`` with input ``[id int64]``
After: ``out.write = {"dialect": "postgres", "mode": "upsert", "statements": {"prepare": [...], ...}, ...}``.
"""

from __future__ import annotations

from typing import Any

import attrs

from osiris.dialects import PlanError, plan_write
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error, warning
from osiris.ir.span import Span
from osiris.passes.base import PassContext, PassResult

PRODUCT = "plan-ddl"  # {step_id: write plan}
DEFERRED = "plan-ddl:deferred"  # {step_id: why its DDL waits until run time}
WRITER_DIALECTS = {
    "postgres.writer": "postgres",
    "supabase.writer": "postgres",
    "mysql.writer": "mysql",
    "duckdb.writer": "duckdb",
    "filesystem.csv_writer": "csv",
}
_CODES = {"primary_key": "OSR-E205", "table": "OSR-E204", "schema": "OSR-E204"}


def plan_ddl(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diags: list[Diagnostic] = []
    plans: dict[str, Any] = {}
    deferred: dict[str, str] = {}
    unknown = ctx.products.get("infer-schemas", {}).get("unknown", {})
    steps = []
    broken: set[str] = set()
    for step in pipeline.steps:
        name = WRITER_DIALECTS.get(step.component)
        if name is None or step.mode != "write" or step.id in ctx.skip:
            steps.append(step)
            continue
        before = len(diags)
        plan = _plan(step, name, _spec_defaults(ctx, step.component), diags)
        if any(d.is_error for d in diags[before:]):
            broken.add(step.id)
        if plan is not None:
            plans[step.id] = plan
            if plan["columns"] is None:
                upstream = next(iter(step.inputs), None)
                why = unknown.get(upstream.step, "") if upstream else ""
                deferred[step.id] = f"input columns unknown at build time{': ' + why if why else ''}"
        steps.append(attrs.evolve(step, write=plan))
    ctx.products[PRODUCT] = plans
    ctx.products[DEFERRED] = deferred
    return PassResult(attrs.evolve(pipeline, steps=tuple(steps)), tuple(diags), frozenset(broken))


def _spec_defaults(ctx: PassContext, component: str) -> dict[str, Any]:
    spec = ctx.registry.get(component) if ctx.registry is not None else None
    props = spec.config_schema.get("properties", {}) if spec is not None else {}
    return {k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v}


def _get(step: nodes.Step, *keys: str) -> tuple[nodes.Value | None, Span | None]:
    for key in keys:
        entry = step.config.entry(key)
        if entry is not None:
            return entry.value, entry.value.span or entry.key_span
    return None, None


def _plan(step: nodes.Step, name: str, defaults: dict[str, Any], diags: list[Diagnostic]) -> dict[str, Any] | None:
    cfg = nodes.plain(step.config)
    assert isinstance(cfg, dict)
    spans = {
        "table": _get(step, "table", "path")[1],
        "schema": _get(step, "schema")[1],
        "write_mode": _get(step, "write_mode", "mode")[1],
        "primary_key": _get(step, "primary_key", "upsert_keys")[1],
        "schema_evolution": _get(step, "schema_evolution")[1],
        "replace_strategy": _get(step, "replace_strategy")[1],
    }
    table = cfg.get("table", cfg.get("path") if name == "csv" else None)
    schema = cfg.get("schema", defaults.get("schema"))
    if not isinstance(table, str) or not (schema is None or isinstance(schema, str)):
        return None  # a reference resolved only at run time: the writer plans it then
    mode = cfg.get("write_mode", cfg.get("mode", defaults.get("write_mode", "append")))
    if cfg.get("truncate_before") is True and mode == "append":
        mode = "truncate"
    pk = cfg.get("primary_key", cfg.get("upsert_keys"))
    create = cfg.get("create_if_missing", cfg.get("create_table", defaults.get("create_if_missing", True)))
    evolution = cfg.get("schema_evolution", defaults.get("schema_evolution", "fail"))
    strategy = cfg.get("replace_strategy", defaults.get("replace_strategy"))
    columns = None
    col_spans: dict[str, Span | None] = {}
    if step.schema is not None:
        columns = [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in step.schema.columns]
        col_spans = {c.name: c.span for c in step.schema.columns}
    try:
        plan = plan_write(
            name,
            {"schema": schema, "table": table},
            str(mode),
            columns,
            pk if isinstance(pk, str | list) else None,
            schema_evolution=str(evolution),
            create_if_missing=bool(create),
            replace_strategy=str(strategy) if strategy is not None else None,
        )
    except PlanError as exc:
        span = col_spans.get(exc.column or "") if exc.field == "columns" else spans.get(exc.field)
        pk_value = _get(step, "primary_key", "upsert_keys")[0]
        if exc.field == "primary_key" and isinstance(pk_value, nodes.List):
            span = next((i.span for i in pk_value.items if isinstance(i, nodes.Str) and i.value == exc.column), span)
        code = _CODES.get(exc.field, "OSR-E202")
        if exc.field == "columns" and "identifier" in str(exc):
            code = "OSR-E204"
        notes: tuple[str, ...] = ()
        if exc.field == "columns" and "appears twice" in str(exc) and step.inputs:
            notes = (f"its input '{step.inputs[0].step}' returns two columns of that name: name them apart (AS)",)
        diags.append(error(code, f"writer '{step.id}': {exc}", span or step.id_span or step.span, *notes))
        return None
    for message in plan["warnings"]:
        column = message.split("'")[1] if "'" in message else ""
        span = col_spans.get(column) or step.id_span or step.span
        diags.append(
            warning(
                "OSR-W201", f"writer '{step.id}': {message}", span, f"target {plan['target']['qualified']} ({name})"
            )
        )
    return plan
