"""verify with a memo (what run_passes uses) reports exactly what verify without one does, pass after pass."""

from __future__ import annotations

import attrs

from osiris.ir import Entry, Map, ParamRef, Pipeline, Str
from osiris.ir.verify import Memo, verify

from .helpers import cfg, pipeline, step


def _pipeline(*configs: Map) -> Pipeline:
    return pipeline(*(step(f"s{i}", config=c) for i, c in enumerate(configs)))


def test_memo_gives_the_same_problems_as_a_fresh_walk() -> None:
    bad = Map((Entry("a", Str("x")), Entry("a", ParamRef("p"))))  # duplicate keys + a placeholder
    raw = Map((Entry("n", 3),))  # type: ignore[arg-type]  # raw Python data slipped in
    pipeline = _pipeline(cfg(path=Str("in.csv")), bad, raw)
    memo: Memo = {}
    for stage in ((), ("resolve-params",), ("resolve-params",)):
        assert verify(pipeline, stage, memo) == verify(pipeline, stage)
    assert any("duplicate keys" in p for p in verify(pipeline, (), memo))
    assert any("unresolved placeholder at steps/s1/config/a" in p for p in verify(pipeline, ("resolve-params",), memo))
    assert any("not an IR value: int" in p for p in verify(pipeline, (), memo))


def test_a_config_a_pass_replaced_is_walked_again() -> None:
    good = _pipeline(cfg(path=Str("in.csv")))
    memo: Memo = {}
    assert verify(good, ("resolve-params",), memo) == []
    broken = attrs.evolve(good, steps=(attrs.evolve(good.steps[0], config=cfg(path=ParamRef("p"))),))
    assert verify(broken, ("resolve-params",), memo) == ["unresolved placeholder at steps/s0/config/path"]
    renamed = attrs.evolve(good, steps=(attrs.evolve(good.steps[0], id="other"),))
    assert verify(renamed, (), memo) == verify(renamed, ())
