"""Compiler invariants over generated pipelines (osiris.testing): validity, diagnostics, idempotence, secrets."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.backends import get_backend
from osiris.compile import compile_file, make_context
from osiris.ir.diagnostics import has_errors
from osiris.ir.verify import verify
from osiris.passes.manager import PASS_NAMES, PASSES
from osiris.testing.mutations import MUTATIONS, InvalidPipeline, invalid_pipelines
from osiris.testing.pipelines import GeneratedPipeline, valid_pipelines
from osiris.testing.secrets import leaks

SYNTAXES = ("oml", "text")
_FEW = settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _errors(result: object) -> list[str]:
    return [f"{d.code} {d.message}" for d in result.diagnostics if d.severity.name == "ERROR"]  # type: ignore[attr-defined]


@given(valid_pipelines())
def test_generated_pipelines_compile_to_equal_ir_in_both_syntaxes(g: GeneratedPipeline) -> None:
    """What valid_pipelines claims: no error after every pass; and OML and text say the same thing."""
    with tempfile.TemporaryDirectory() as d:
        results = [compile_file(str(g.write_to(Path(d) / s, s)), env=g.env) for s in SYNTAXES]
    for r in results:
        assert not r.failed, _errors(r)
    oml, text = (r.pipeline for r in results)
    assert oml == text


# Every (syntax, mutation) pair a mutation applies to: OML-only spellings (e.g. forbidden top-level keys) have no
# text-syntax form, so they are not generated for it rather than skipped.
_PAIRS = [(s, m.name) for s in SYNTAXES for m in MUTATIONS if not (s == "text" and m.oml_only)]


@pytest.mark.parametrize(("syntax", "mutation"), _PAIRS)
@_FEW
@given(data=st.data())
def test_every_mutation_gives_its_code_with_a_span_in_the_file(syntax: str, mutation: str, data: st.DataObject) -> None:
    inv: InvalidPipeline = data.draw(invalid_pipelines(syntax, mutation))
    with tempfile.TemporaryDirectory() as d:
        path = inv.write_to(Path(d), syntax)
        lines = path.read_text(encoding="utf-8").splitlines()
        result = compile_file(str(path), env=inv.generated.env)
    errors = [x for x in result.diagnostics if x.severity.name == "ERROR"]
    assert errors, "the mutation was not detected"
    assert errors[0].code == inv.expected(syntax), [f"{e.code} {e.message}" for e in errors]
    assert all(e.code != "OSR-E009" for e in errors)  # never an internal error
    span = errors[0].span
    assert span is not None and span.file == str(path)
    assert 1 <= span.line <= len(lines) and 1 <= span.col <= len(lines[span.line - 1]) + 1
    for secret in inv.generated.secrets:  # a literal secret is reported, never repeated
        for d in result.diagnostics:
            assert not leaks(secret, d.message + " ".join(d.notes))


@settings(max_examples=25)
@given(valid_pipelines())
def test_every_pass_is_idempotent_and_returns_verified_ir(g: GeneratedPipeline) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = g.write_to(Path(d))
        front = compile_file(str(path), frontend_only=True)
        assert front.pipeline is not None
        ctx = make_context(env=g.env, sources=front.sources)
        pipeline, done = front.pipeline, []
        for name in PASS_NAMES:
            fn = PASSES[name.replace("_", "-")]()
            once = fn(pipeline, ctx)
            assert not has_errors(once.diagnostics), name
            done.append(name)
            assert not verify(once.pipeline, done)
            twice = fn(once.pipeline, ctx)
            assert twice.pipeline == once.pipeline, f"{name} is not idempotent"
            pipeline = once.pipeline


def _all_bytes(folder: Path) -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]


@settings(max_examples=30)
@given(valid_pipelines())
def test_no_generated_secret_in_any_build_file(g: GeneratedPipeline) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = g.write_to(Path(d) / "src")
        result = compile_file(str(path), env=g.env)
        assert not result.failed, _errors(result)
        out = Path(d) / "out"
        get_backend("local").emit(result, out)
        files = _all_bytes(out)
    assert files
    for secret in g.secrets:
        for name, data in files:
            assert not leaks(secret, data), f"secret leaked into {name}"
        for diag in result.diagnostics:
            assert not leaks(secret, diag.message + " ".join(diag.notes))
