"""The pass contract, written once.

A pass is ``fn(pipeline, ctx) -> PassResult(pipeline, diagnostics)``. It may assume the IR it is given verifies
(the passes before it ran without errors), must return IR that verifies, never mutates its input (nodes are
frozen; use ``attrs.evolve``) and raises only for internal errors. Problems are diagnostics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from osiris.ir import Diagnostic, Pipeline

if TYPE_CHECKING:
    from osiris.components.registry import Registry


@attrs.frozen
class PassContext:
    """What passes may read besides the IR. ``env`` is a snapshot (tests pass their own); nothing reads os.environ."""

    registry: Registry
    params: Mapping[str, str] = attrs.field(factory=dict)
    profile: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    sources: Mapping[str, str] = attrs.field(factory=dict)
    # Free-form products of passes that are not IR (e.g. fingerprints), keyed by pass name.
    products: dict[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen
class PassResult:
    pipeline: Pipeline
    diagnostics: tuple[Diagnostic, ...] = ()


class Pass(Protocol):
    __name__: str

    def __call__(self, pipeline: Pipeline, ctx: PassContext, /) -> PassResult: ...
