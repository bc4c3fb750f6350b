"""The compiled plan as data (docs/plan-format.md): built by the backends from the IR after all passes and the
passes' products. Pure data in, data out: no paths, no time, no environment.
"""

from __future__ import annotations

from typing import Any

from osiris import __version__
from osiris.ir import nodes
from osiris.passes.base import PassContext
from osiris.passes.fingerprint import identity

PLAN_VERSION = 1


def _schema(schema: nodes.Schema | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    columns = [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in schema.columns]
    return {"columns": columns, "source": schema.source}  # "lock": the runtime checks the source for drift


def export_entries(ctx: PassContext) -> dict[str, dict[str, Any]]:
    """Step id -> its plan entry's ``export`` (plan_exports): the extractor's ``{format, into, options}`` (what
    its server writes), the writer's ``{format, from}``."""
    product = ctx.products.plan_exports
    entries: dict[str, dict[str, Any]] = {}
    for sid, fused in (product.steps if product else {}).items():
        entries[sid] = {"format": fused["format"], "into": fused["writer"], "options": dict(fused["options"])}
        entries[fused["writer"]] = {"format": fused["format"], "from": sid}
    return entries


def step_entry(step: nodes.Step, ctx: PassContext, export: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = ctx.registry.get(step.component)
    conn = step.config.get("connection")
    connection = {"family": conn.family, "alias": conn.alias} if isinstance(conn, nodes.ConnectionRef) else None
    entry = {
        "id": step.id,
        "component": step.component,
        "mode": step.mode,
        "driver": spec.driver if spec else "",
        # the spec's x-compiler.dialect: how the runtime routes its connection and reads a lock's types
        "dialect": spec.dialect if spec else None,
        "needs": list(step.needs or ()),
        "inputs": [{"step": i.step, "name": i.name} for i in step.inputs],
        "connection": connection,
        "config": nodes.data(step.config),
        # what the runtime masks (osiris.secrets): the spec's secret config and connection fields
        "secret_fields": sorted(spec.secret_fields | set(spec.connection_secrets)) if spec else [],
        "schema": _schema(step.schema),
        "write": step.write,
    }
    if export is not None:  # only fused steps carry the key: other plans stay as they were
        entry["export"] = export
    return entry


def build_plan(pipeline: nodes.Pipeline, ctx: PassContext) -> dict[str, Any]:
    """plan.json as a dict; steps in ``pipeline.order`` (source order when there is none)."""
    order = pipeline.order or tuple(s.id for s in pipeline.steps)
    by_id = {s.id: s for s in pipeline.steps}
    requirements = ctx.products.collect_requirements
    exports = export_entries(ctx)
    registry = {}
    for spec in filter(None, map(ctx.registry.get, sorted({s.component for s in pipeline.steps}))):
        packages = requirements.by_component.get(spec.name, ()) if requirements else ()
        registry[spec.name] = {**identity(spec), "packages": list(packages)}
    return {
        "plan_version": PLAN_VERSION,
        "compiler": {"name": "osirisc", "version": __version__},
        "pipeline": {
            "name": pipeline.name,
            "oml_version": pipeline.oml_version,
            "description": pipeline.description,
            "metadata": nodes.data(pipeline.metadata) if pipeline.metadata is not None else {},
        },
        "params": dict(ctx.products.resolve_params.values) if ctx.products.resolve_params else {},
        "steps": [step_entry(by_id[sid], ctx, exports.get(sid)) for sid in order],
        "registry": registry,
    }
