"""The compiled plan as data (docs/plan-format.md): built from the IR after all passes plus the passes' products.

Used by the ``fingerprint`` pass (which hashes it) and by backends (which write it). Pure data in, data out: no
paths, no time, no environment.
"""

from __future__ import annotations

from typing import Any

from osiris import __version__
from osiris.canonical import sha256
from osiris.ir import nodes
from osiris.passes.base import PassContext

PLAN_VERSION = 1


def plan_value(value: nodes.Value) -> Any:
    """A config value for the plan: like ``nodes.plain`` but a connection reference is its ``@family.alias`` text."""
    match value:
        case nodes.ConnectionRef():
            return str(value)
        case nodes.List():
            return [plan_value(v) for v in value.items]
        case nodes.Map():
            return {e.key: plan_value(e.value) for e in value.entries}
    return nodes.plain(value)


def _schema(schema: nodes.Schema | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    columns = [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in schema.columns]
    return {"columns": columns, "source": schema.source}  # "lock": the runtime checks the source for drift


def step_entry(step: nodes.Step, ctx: PassContext) -> dict[str, Any]:
    spec = ctx.registry.get(step.component)
    conn = step.config.get("connection")
    connection = {"family": conn.family, "alias": conn.alias} if isinstance(conn, nodes.ConnectionRef) else None
    ddl = ctx.products.get("plan-ddl") or {}
    write = ddl.get(step.id) if isinstance(ddl, dict) else None
    return {
        "id": step.id,
        "component": step.component,
        "mode": step.mode,
        "driver": spec.driver if spec else "",
        "needs": list(step.needs or ()),
        "inputs": [{"step": i.step, "name": i.name} for i in step.inputs],
        "connection": connection,
        "config": plan_value(step.config),
        # what the runtime masks (osiris.secrets): the spec's secret config and connection fields
        "secret_fields": sorted(spec.secret_fields | set(spec.connection_secrets)) if spec else [],
        "schema": _schema(step.schema),
        "write": write if write is not None else step.write,
    }


def registry_entries(pipeline: nodes.Pipeline, ctx: PassContext) -> dict[str, Any]:
    """Each used component: version, driver, the sha256 of its spec document, and its pinned packages."""
    by_component = (ctx.products.get("collect-requirements") or {}).get("by_component", {})
    out: dict[str, Any] = {}
    for name in sorted({s.component for s in pipeline.steps}):
        spec = ctx.registry.get(name)
        if spec is None:
            continue
        out[name] = {
            "version": spec.version,
            "driver": spec.driver,
            "spec_sha256": sha256(spec.raw),
            "packages": list(by_component.get(name, [])),
        }
    return out


def build_plan(pipeline: nodes.Pipeline, ctx: PassContext) -> dict[str, Any]:
    """plan.json as a dict; steps in ``pipeline.order`` (source order when there is none)."""
    order = pipeline.order or tuple(s.id for s in pipeline.steps)
    steps = []
    by_id = {s.id: s for s in pipeline.steps}
    for sid in order:
        step = by_id.get(sid)
        assert step is not None
        steps.append(step_entry(step, ctx))
    params = (ctx.products.get("resolve-params") or {}).get("values", {})
    return {
        "plan_version": PLAN_VERSION,
        "compiler": {"name": "osirisc", "version": __version__},
        "pipeline": {
            "name": pipeline.name,
            "oml_version": pipeline.oml_version,
            "description": pipeline.description,
            "metadata": plan_value(pipeline.metadata) if pipeline.metadata is not None else {},
        },
        "params": dict(params),
        "steps": steps,
        "registry": registry_entries(pipeline, ctx),
    }
