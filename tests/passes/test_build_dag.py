from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from osiris.ir import Input
from osiris.ir.verify import verify
from osiris.passes.build_dag import build_dag, sql_name

from .helpers import ctx, pipeline, span, step


def test_implicit_and_explicit_needs_order_and_inputs() -> None:
    p = pipeline(
        step("a"),
        step("b"),
        step("t", "transform"),
        step("j", "transform", needs=("a", "b")),
        step("w", "write", needs=("j",)),
    )
    out = build_dag(p, ctx())
    assert out.diagnostics == ()
    got = {s.id: (s.needs, s.inputs) for s in out.pipeline.steps}
    assert got["a"] == ((), ()) and got["b"] == ((), ())  # read steps without needs are roots
    assert got["t"] == (("b",), (Input("b", "df_b"), Input("b", "input_df")))  # implicit: the step above
    assert got["j"] == (("a", "b"), (Input("a", "df_a"), Input("b", "df_b")))
    assert got["w"][1] == (Input("j", "df_j"), Input("j", "input_df"))
    assert out.pipeline.order == ("a", "b", "t", "j", "w")
    assert verify(out.pipeline, ["build-dag"]) == []
    assert build_dag(out.pipeline, ctx()).pipeline == out.pipeline  # idempotent


def test_order_ties_follow_source_order() -> None:
    p = pipeline(step("w", "write", needs=("c",)), step("c"), step("b"), step("t", "transform", needs=("b", "c")))
    assert build_dag(p, ctx()).pipeline.order == ("c", "w", "b", "t")


def test_sql_names() -> None:
    assert sql_name("extract-movies") == "df_extract_movies"
    assert sql_name("1st.step") == "df__1st_step"
    assert sql_name("ünï") == "df__n_"


def test_name_clash_numbered_by_source_order_with_warning() -> None:
    p = pipeline(step("a.b"), step("a-b"), step("t", "transform", needs=("a-b", "a.b")))
    out = build_dag(p, ctx())
    assert out.pipeline.step("t").inputs == (Input("a-b", "df_a_b_2"), Input("a.b", "df_a_b"))  # type: ignore[union-attr]
    assert [d.code for d in out.diagnostics] == ["OSR-W130"]
    assert "'a.b' is df_a_b, 'a-b' is df_a_b_2" in out.diagnostics[0].message


def test_consumer_without_input_is_an_error() -> None:
    out = build_dag(pipeline(step("w", "write"), step("t", "transform", needs=())), ctx())
    assert [(d.code, d.span) for d in out.diagnostics] == [("OSR-E133", span(3, 11, 5)), ("OSR-E133", span(3, 11, 9))]
    assert "first step" in out.diagnostics[0].message and "empty" in out.diagnostics[1].message


def test_hand_built_graph_errors_do_not_crash() -> None:
    bad = pipeline(step("a", needs=("a",)), step("b", needs=("zz",)), step("a"))
    codes = sorted(d.code for d in build_dag(bad, ctx()).diagnostics)
    assert codes == ["OSR-E130", "OSR-E131", "OSR-E134"]
    cyc = pipeline(step("x", needs=("z",)), step("y", "transform", needs=("x",)), step("z", "transform", needs=("y",)))
    (diag,) = build_dag(cyc, ctx()).diagnostics
    assert diag.code == "OSR-E132" and "x -> z -> y -> x" in diag.message


@st.composite
def dags(draw: st.DrawFn) -> list[tuple[str, tuple[str, ...] | None]]:
    n = draw(st.integers(1, 8))
    out: list[tuple[str, tuple[str, ...] | None]] = []
    for i in range(n):
        earlier = [f"s{j}" for j in range(i)]
        needs = draw(st.none() | st.lists(st.sampled_from(earlier), max_size=3).map(tuple)) if earlier else None
        out.append((f"s{i}", needs))
    return draw(st.permutations(out))


@given(dags())
def test_random_acyclic_graphs_verify(shape: list[tuple[str, tuple[str, ...] | None]]) -> None:
    p = pipeline(*(step(sid, "read", needs=needs) for sid, needs in shape))
    out = build_dag(p, ctx())
    assert out.diagnostics == ()
    assert verify(out.pipeline, ["build-dag"]) == []
    assert build_dag(out.pipeline, ctx()).pipeline == out.pipeline
