"""The pass contract, written once.

A pass is ``fn(pipeline, ctx) -> PassResult(pipeline, diagnostics, broken, product)``. It may assume the IR it is
given verifies (the passes before it ran without errors), must return IR that verifies, never mutates its input
(nodes are frozen; use ``attrs.evolve``) and raises only for internal errors. Problems are diagnostics. What a pass
learns that is not IR is its ``product``: one frozen object per pass, which the manager merges into
``ctx.products`` (``Products``, one typed field per pass that has one) before running the next pass.

To report every independent problem of a file at once, a pass may also run on a pipeline with broken steps
(passes/poison.py): it then skips the steps in ``ctx.skip`` (found broken by a stage it relies on; only those may
fail to verify) and returns in ``PassResult.broken`` the steps it found broken itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from osiris.ir import Diagnostic, Pipeline

if TYPE_CHECKING:
    from osiris.components.registry import Registry


@attrs.frozen
class Params:
    """resolve_params: the value of every parameter used (plain data), where each came from, the profile."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]
    profile: str | None


@attrs.frozen
class Schemas:
    """infer_schemas: step id -> why its columns are known only at run time (the known ones are Step.schema)."""

    unknown: Mapping[str, str]


@attrs.frozen
class Incremental:
    """check_incremental: incremental step id -> {"writer": its writer's id, "dialect": the writer's, "source": the
    extractor's dialect (None for an API)}."""

    steps: Mapping[str, Mapping[str, Any]]


@attrs.frozen
class Exports:
    """plan_exports: fused extractor id -> {"writer", "format", "options"}; a writer that could take an export but
    does not -> {"source": the extractor, "reason"}."""

    steps: Mapping[str, Mapping[str, Any]]
    refused: Mapping[str, Mapping[str, str]]


@attrs.frozen
class Requirements:
    """collect_requirements: the pinned packages of a run, and those of each component used."""

    packages: tuple[str, ...]
    by_component: Mapping[str, tuple[str, ...]]


@attrs.frozen
class Fingerprints:
    """fingerprint: name -> sha256 (``components``, ``steps``: a mapping of them); ``fingerprints.json`` holds these
    plus the backend's ``plan``."""

    hashes: Mapping[str, Any]


@attrs.frozen
class Products:
    """Every pass's product, None until the pass ran; the manager sets each with ``merged``."""

    resolve_params: Params | None = None
    infer_schemas: Schemas | None = None
    check_incremental: Incremental | None = None
    plan_exports: Exports | None = None
    collect_requirements: Requirements | None = None
    fingerprint: Fingerprints | None = None

    def merged(self, name: str, product: Any) -> Products:
        """These products with pass ``name``'s (``resolve-params`` or ``resolve_params``); None changes nothing."""
        return self if product is None else attrs.evolve(self, **{name.replace("-", "_"): product})


@attrs.frozen
class PassContext:
    """What passes may read besides the IR. ``env`` is a snapshot (tests pass their own); nothing reads os.environ."""

    registry: Registry
    params: Mapping[str, str] = attrs.field(factory=dict)
    profile: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    sources: Mapping[str, str] = attrs.field(factory=dict)
    products: Products = attrs.field(factory=Products, eq=False)
    # Steps this pass must not check: found broken by a stage it relies on (passes/poison.py; set by the manager).
    skip: frozenset[str] = frozenset()


@attrs.frozen
class PassResult:
    pipeline: Pipeline
    diagnostics: tuple[Diagnostic, ...] = ()
    # The steps whose errors this pass reported (passes/poison.py). None: its errors are not attributed to steps (or
    # it does not say), so an error stops the compile after this pass.
    broken: frozenset[str] | None = None
    product: Any = None  # the pass's own product (run_passes: every pass's, as Products)


class Pass(Protocol):
    __name__: str

    def __call__(self, pipeline: Pipeline, ctx: PassContext, /) -> PassResult: ...
