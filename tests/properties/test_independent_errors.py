"""k independent mistakes in a file give k reports in one run (passes/poison.py), in both syntaxes.

The mistakes are ``STEP_LOCAL`` mutations (osiris.testing.mutations), each in a different step of a valid generated
pipeline; the strategy never returns fewer than two. Before poisoned steps, a compile stopped after the first stage
that found an error, so two mutations caught by different stages (e.g. an unknown component and a bad enum) gave one
report: this property fails then.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from osiris.compile import compile_file
from osiris.ir import Diagnostic, Step
from osiris.testing.mutations import MultiInvalidPipeline, independently_invalid_pipelines
from osiris.testing.secrets import leaks


def _step_of(d: Diagnostic, steps: tuple[Step, ...]) -> str | None:
    """The id of the step whose span holds the diagnostic's position."""
    assert d.span is not None, f"{d.code} {d.message} has no position"
    at = (d.span.line, d.span.col)
    for s in steps:
        assert s.span is not None
        if (s.span.line, s.span.col) <= at <= (s.span.end_line, s.span.end_col):
            return s.id
    return None


@pytest.mark.parametrize("syntax", ["oml", "text"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(inv=independently_invalid_pipelines())
def test_each_independent_mistake_is_reported_in_its_own_step(syntax: str, inv: MultiInvalidPipeline) -> None:
    k = len(inv.mutated)
    assert k >= 2  # (the strategy's promise: the property is never about one mistake)
    with tempfile.TemporaryDirectory() as d:
        path = inv.write_to(Path(d), syntax)
        result = compile_file(str(path), env=inv.generated.env)
    errors = [x for x in result.diagnostics if x.is_error]
    described = [f"{e.span}: {e.code} {e.message}" for e in errors]
    assert all(e.code != "OSR-E009" for e in errors), described
    assert len(errors) >= k, (described, [(sid, m.name) for sid, m in inv.mutated])
    assert result.pipeline is not None  # every mistake is in a step: the passes ran on the others
    where: dict[str, set[str]] = {}
    for e in errors:
        sid = _step_of(e, result.pipeline.steps)
        assert sid is not None, f"an error outside every step: {e.code} {e.message}"
        where.setdefault(sid, set()).add(e.code)
    mutated = {sid: m for sid, m in inv.mutated}
    assert set(where) == set(mutated), (described, [(sid, m.name) for sid, m in inv.mutated])  # nothing cascades
    for sid, m in mutated.items():
        assert m.expected(syntax) in where[sid], (sid, m.name, described)
    for secret in inv.generated.secrets:
        for x in result.diagnostics:
            assert not leaks(secret, x.message + " ".join(x.notes))
