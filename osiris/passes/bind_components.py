"""bind_components: every step to its component spec; the step's mode must be one the component supports.

Before: ``- {id: a, component: mysql.extractr, mode: read}`` -> OSR-E120 at ``mysql.extractr`` ("did you mean
'mysql.extractor'?"). ``mode: write`` on ``mysql.extractor`` -> OSR-E121 at the mode, listing ``read``.
OML's ``read`` is the spec's ``extract``. The IR is unchanged.
"""

from __future__ import annotations

from osiris.components.registry import MODE_ALIASES
from osiris.ir import Pipeline
from osiris.ir.diagnostics import Diagnostic, did_you_mean, error
from osiris.passes.base import PassContext, PassResult

# Spec mode -> how a pipeline spells it.
OML_MODE = {"extract": "read", "write": "write", "transform": "transform"}


def bind_components(pipeline: Pipeline, ctx: PassContext) -> PassResult:
    diagnostics: list[Diagnostic] = []
    broken: set[str] = set()
    for step in pipeline.steps:
        if step.id in ctx.skip:
            continue
        spec = ctx.registry.get(step.component)
        if spec is None:
            hint = did_you_mean(step.component, ctx.registry.names())
            notes = [hint] if hint else []
            notes.append("`osirisc components list` shows the available components")
            diagnostics.append(
                error("OSR-E120", f"unknown component '{step.component}'", step.component_span or step.span, *notes)
            )
            broken.add(step.id)
            continue
        if not spec.supports(step.mode):
            supported = ", ".join(OML_MODE[m] for m in spec.pipeline_modes)
            spelled = MODE_ALIASES.get(step.mode, step.mode)
            diagnostics.append(
                error(
                    "OSR-E121",
                    f"component '{spec.name}' does not support mode '{step.mode}'",
                    step.mode_span or step.span,
                    f"supported modes: {supported}",
                    *([f"OML '{step.mode}' is the spec's '{spelled}'"] if spelled != step.mode else []),
                )
            )
            broken.add(step.id)
            continue
    return PassResult(pipeline, tuple(diagnostics), frozenset(broken))
