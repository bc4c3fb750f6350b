"""plan_ddl: for every writer, its target and the exact statements of its write mode (docs/ddl.md).

A writer is a step in mode write of a component whose spec declares an ``x-compiler.dialect``. Reads its canonical
config (``table`` or a CSV's ``path``, ``schema``, ``write_mode``, ``primary_key``, ``create_if_missing``,
``schema_evolution``, ``replace_strategy``: validate_config already renamed the Osiris spellings and filled in the
spec's defaults) and its input columns from ``infer_schemas``, and sets ``Step.write`` (the one carrier of the
write plan) to
``osiris.dialects.plan_write(...)``. Unknown columns give a plan with ``columns: null``: the writer completes it at
run time with the same function (``osirisc plan`` says why, from infer_schemas' product). Lossy type mappings
are warnings at the column.

Before: ``write out (postgres.writer, table: stats, write_mode: upsert, primary_key: id)`` with input ``[id int64]``
After: ``out.write = {"dialect": "postgres", "mode": "upsert", "statements": {"prepare": [...], ...}, ...}``.
"""

from __future__ import annotations

from typing import Any

import attrs

from osiris.components.registry import ComponentSpec
from osiris.dialects import PlanError, plan_write
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error, warning
from osiris.ir.span import Span
from osiris.passes.base import PassContext, PassResult

_CODES = {"primary_key": "OSR-E205", "table": "OSR-E204", "schema": "OSR-E204"}


def plan_ddl(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diags: list[Diagnostic] = []
    steps = []
    broken: set[str] = set()
    for step in pipeline.steps:
        spec = ctx.registry.get(step.component)
        if spec is None or spec.dialect is None or step.mode != "write" or step.id in ctx.skip:
            steps.append(step)
            continue
        before = len(diags)
        plan = _plan(step, spec, diags)
        if any(d.is_error for d in diags[before:]):
            broken.add(step.id)
        steps.append(attrs.evolve(step, write=plan))
    return PassResult(attrs.evolve(pipeline, steps=tuple(steps)), tuple(diags), frozenset(broken))


def _get(step: nodes.Step, *keys: str) -> tuple[nodes.Value | None, Span | None]:
    for key in keys:
        entry = step.config.entry(key)
        if entry is not None:
            return entry.value, entry.value.span or entry.key_span
    return None, None


def _plan(step: nodes.Step, spec: ComponentSpec, diags: list[Diagnostic]) -> dict[str, Any] | None:
    cfg = nodes.plain(step.config)
    assert isinstance(cfg, dict)
    name = str(spec.dialect)
    keys = ("schema", "write_mode", "primary_key", "schema_evolution", "replace_strategy")
    spans = {key: _get(step, key)[1] for key in keys}
    spans["table"] = _get(step, "table", "path")[1]
    table = cfg.get("table", cfg.get("path") if name == "csv" else None)
    # validate_config leaves a field a connection provides unset (the connection's value wins at run time): the
    # spec's default is planned now, and a run whose connection gives a schema re-targets the plan (docs/ddl.md)
    schema = cfg.get("schema", spec.properties.get("schema", {}).get("default"))
    if not isinstance(table, str) or not (schema is None or isinstance(schema, str)):
        return None  # a reference resolved only at run time: the writer plans it then
    pk = cfg.get("primary_key")
    strategy = cfg.get("replace_strategy")
    columns = None
    col_spans: dict[str, Span | None] = {}
    if step.schema is not None:
        columns = [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in step.schema.columns]
        col_spans = {c.name: c.span for c in step.schema.columns}
    try:
        plan = plan_write(
            name,
            {"schema": schema, "table": table},
            str(cfg.get("write_mode", "append")),  # a CSV writer has no write_mode: it appends to a new file
            columns,
            pk if isinstance(pk, str | list) else None,
            schema_evolution=str(cfg.get("schema_evolution", "fail")),
            create_if_missing=bool(cfg.get("create_if_missing", True)),
            replace_strategy=str(strategy) if strategy is not None else None,
        )
    except PlanError as exc:
        span = col_spans.get(exc.column or "") if exc.field == "columns" else spans.get(exc.field)
        pk_value = _get(step, "primary_key")[0]
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
