"""fingerprint: sha256 of everything that affects what a build does, as canonical JSON (osiris/canonical.py).

``ctx.products["fingerprint"]`` = ``{"source": sha of the source text, "params": of the resolved values,
"components": {name: of the spec document}, "steps": {id: of the effective config}, "compiler": of
{name, version}, "registry": of {name: version, spec hash, driver}, "requirements": of the pinned list,
"plan": of the whole plan.json data}``; ``ctx.products["plan"]`` keeps that plan data, so a backend emitting this
same IR need not build it again. The source file's name or location is never hashed, so a build
fingerprints the same from any folder. Before: any pipeline; after: the same IR and the hashes above.
"""

from __future__ import annotations

from typing import Any

from osiris import __version__
from osiris.canonical import sha256, sha256_text
from osiris.ir import nodes
from osiris.passes.base import PassContext, PassResult
from osiris.plan import build_plan, plan_value, registry_entries


def _source_text(pipeline: nodes.Pipeline, ctx: PassContext) -> str | None:
    if pipeline.span is not None and pipeline.span.file in ctx.sources:
        return ctx.sources[pipeline.span.file]
    if len(ctx.sources) == 1:
        return next(iter(ctx.sources.values()))
    return None


def fingerprint(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    """Record the hashes; the IR is unchanged."""
    text = _source_text(pipeline, ctx)
    products = ctx.products
    components: dict[str, str] = {}
    for name in sorted({s.component for s in pipeline.steps}):
        spec = ctx.registry.get(name)
        if spec is not None:
            components[name] = sha256(spec.raw)
    registry = {
        name: {k: v for k, v in entry.items() if k != "packages"}
        for name, entry in registry_entries(pipeline, ctx).items()
    }
    result: dict[str, Any] = {
        "source": sha256_text(text) if text is not None else None,
        "params": sha256((products.get("resolve-params") or {}).get("values", {})),
        "components": components,
        "steps": {s.id: sha256(plan_value(s.config)) for s in pipeline.steps},
        "compiler": sha256({"name": "osirisc", "version": __version__}),
        "registry": sha256(registry),
        "requirements": sha256((products.get("collect-requirements") or {}).get("packages", [])),
    }
    plan = build_plan(pipeline, ctx)
    result["plan"] = sha256(plan)
    products["fingerprint"] = result
    products["plan"] = plan
    return PassResult(pipeline)
