"""Syntax errors of the text syntax: k independent mistakes give exactly k errors, at their lines, in one run.

``mistyped_texts`` (osiris.testing.mutations) breaks one line in each of k steps of a generated pipeline. The
parser must report each once (no cascade: nothing more), attribute each to its step (so the passes skip exactly
those steps and check the others), and never raise, whatever the text.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from osiris.frontend import load
from osiris.frontend.print_text import to_text
from osiris.frontend.text_recovery import LIMIT
from osiris.ir import Pipeline
from osiris.testing.mutations import HOSTILE_TOKENS, SYNTAX_CODES, MistypedText, mistyped_texts
from osiris.testing.strategies import pipelines


@settings(max_examples=40, deadline=None)
@given(mistyped_texts())
def test_k_syntax_errors_give_k_diagnostics_at_their_lines(case: MistypedText) -> None:
    result = load("p.osiris", text=case.text, partial=True)
    errors = [d for d in result.diagnostics if d.is_error]
    shown = [(d.span.line if d.span else None, d.code, d.message) for d in errors]
    assert all(d.code in SYNTAX_CODES for d in errors), (shown, case.mistakes, case.text)
    assert [d.span.line for d in errors if d.span] == sorted(line for _, line in case.mistakes), (shown, case.text)
    assert result.pipeline is not None, shown  # every error is in a step: the others are checked
    assert result.broken == {sid for sid, _ in case.mistakes}, (shown, case.text)
    assert tuple(s.id for s in result.pipeline.steps) == case.step_ids  # a broken step keeps its place


@settings(max_examples=40, deadline=None)
@given(pipeline=pipelines(max_steps=3), data=st.data())
def test_any_insertion_gives_diagnostics_never_an_exception(pipeline: Pipeline, data: st.DataObject) -> None:
    text = to_text(pipeline)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        token = data.draw(st.sampled_from([*(t.decode("utf-8", "replace")[:200] for t in HOSTILE_TOKENS), "}", "{"]))
        text = text[:at] + token + text[at:]
    result = load("p.osiris", text=text, partial=True)
    lines = text.count("\n") + text.count("\r") + 1
    syntax = [d for d in result.diagnostics if d.code in SYNTAX_CODES]
    assert len(syntax) <= LIMIT
    assert all(d.span is None or 1 <= d.span.line <= lines for d in result.diagnostics)
    assert result.pipeline is not None or any(d.is_error for d in result.diagnostics)
