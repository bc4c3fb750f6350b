"""Every pass on every example and pass fixture: the IR verifies after each pass, and each pass is idempotent
(running it again on its own output gives equal IR and equal products, and no error)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from osiris.compile import make_context
from osiris.frontend import load
from osiris.ir.diagnostics import has_errors
from osiris.ir.verify import verify
from osiris.passes.manager import PASSES

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("examples/**/*.osiris"), *ROOT.glob("tests/fixtures/passes/*/*.yaml")]
)
PIPELINES = [p for p in FILES if p.name != "osiris_connections.yaml" and not p.name.endswith(".args.yaml")]


def test_there_is_something_to_check() -> None:
    assert len(PIPELINES) >= 5


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_pass_verifies_and_is_idempotent(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    parsed = load(path.name)
    assert parsed.pipeline is not None and not has_errors(parsed.diagnostics), parsed.diagnostics
    sources = {parsed.source.name: parsed.source.text} if parsed.source else {}
    ctx = make_context(env={}, sources=sources)
    pipeline = parsed.pipeline
    assert verify(pipeline) == []
    done: list[str] = []
    for name, loader in PASSES.items():
        fn = loader()
        result = fn(pipeline, ctx)
        if has_errors(result.diagnostics):
            # Pass fixtures may be invalid on purpose (the golden test checks what they report); examples may not.
            assert "fixtures" in path.parts, f"{name}: {result.diagnostics}"
            return
        done.append(name)
        assert verify(result.pipeline, done) == [], name
        again = fn(result.pipeline, ctx)
        assert again.pipeline == result.pipeline, f"{name} is not idempotent"
        # Warnings may go (a pass that rewrites an old spelling warns once); errors may not appear.
        assert not has_errors(again.diagnostics), name
        assert again.product == result.product, name
        pipeline = result.pipeline
        ctx = attrs.evolve(ctx, products=ctx.products.merged(name, result.product))  # what the manager does
    assert done == list(PASSES)
