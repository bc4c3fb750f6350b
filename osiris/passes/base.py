"""The pass contract, written once.

A pass is ``fn(pipeline, ctx) -> PassResult(pipeline, diagnostics)``. It may assume the IR it is given verifies
(the passes before it ran without errors), must return IR that verifies, never mutates its input (nodes are
frozen; use ``attrs.evolve``) and raises only for internal errors. Problems are diagnostics.

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
class PassContext:
    """What passes may read besides the IR. ``env`` is a snapshot (tests pass their own); nothing reads os.environ."""

    registry: Registry
    params: Mapping[str, str] = attrs.field(factory=dict)
    profile: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    sources: Mapping[str, str] = attrs.field(factory=dict)
    # Free-form products of passes that are not IR (e.g. fingerprints), keyed by pass name.
    products: dict[str, Any] = attrs.field(factory=dict, eq=False)
    # Steps this pass must not check: found broken by a stage it relies on (passes/poison.py; set by the manager).
    skip: frozenset[str] = frozenset()


@attrs.frozen
class PassResult:
    pipeline: Pipeline
    diagnostics: tuple[Diagnostic, ...] = ()
    # The steps whose errors this pass reported (passes/poison.py). None: its errors are not attributed to steps (or
    # it does not say), so an error stops the compile after this pass.
    broken: frozenset[str] | None = None


class Pass(Protocol):
    __name__: str

    def __call__(self, pipeline: Pipeline, ctx: PassContext, /) -> PassResult: ...
