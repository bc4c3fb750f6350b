"""fingerprint: sha256 of everything that affects what a build does, as canonical JSON (osiris/canonical.py).

Its product (``Fingerprints``) is ``{"source": sha of the source text, "params": of the resolved values,
"components": {name: of the spec document}, "steps": {id: of the effective config}, "compiler": of
{name, version}, "registry": of {name: version, spec hash, driver}, "requirements": of the pinned list}``; the
backend that writes plan.json adds ``"plan"``, the hash of the plan data (passes never build the plan). The source
file's name or location is never hashed, so a build fingerprints the same from any folder. Before: any pipeline;
after: the same IR and the hashes above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osiris import __version__
from osiris.canonical import sha256, sha256_text
from osiris.ir import nodes
from osiris.passes.base import Fingerprints, PassContext, PassResult

if TYPE_CHECKING:
    from osiris.components.registry import ComponentSpec


def identity(spec: ComponentSpec) -> dict[str, str]:
    """What a build records of a component (plan.json's ``registry``, this fingerprint): version, driver, spec hash."""
    return {"version": spec.version, "driver": spec.driver, "spec_sha256": sha256(spec.raw)}


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
    specs = [s for s in map(ctx.registry.get, sorted({s.component for s in pipeline.steps})) if s is not None]
    hashes = {
        "source": sha256_text(text) if text is not None else None,
        "params": sha256(products.resolve_params.values if products.resolve_params else {}),
        "components": {spec.name: sha256(spec.raw) for spec in specs},
        "steps": {s.id: sha256(nodes.data(s.config)) for s in pipeline.steps},
        "compiler": sha256({"name": "osirisc", "version": __version__}),
        "registry": sha256({spec.name: identity(spec) for spec in specs}),
        "requirements": sha256(products.collect_requirements.packages if products.collect_requirements else []),
    }
    return PassResult(pipeline, product=Fingerprints(hashes))
