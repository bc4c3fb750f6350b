from osiris.ir import (
    ConnectionRef,
    Entry,
    Float,
    Int,
    List,
    Map,
    Null,
    Param,
    ParamRef,
    Pipeline,
    Span,
    Step,
    Str,
    Template,
)
from osiris.ir.serde import from_json, to_json


def test_round_trip_keeps_values_and_spans() -> None:
    span = Span("p.yaml", 3, 5, 3, 9)
    config = Map(
        (
            Entry("query", Template((Str("n > "), ParamRef("n", span))), span),
            Entry("xs", List((Int(1), Null(), Float(1.5), ConnectionRef("mysql", "db")))),
        ),
        span,
    )
    pipeline = Pipeline(
        "p", "0.1.0", (Step("a", "mysql.extractor", "read", config, needs=()),), params=(Param("n", Int(3)),)
    )
    back = from_json(to_json(pipeline))
    assert back == pipeline
    assert back.steps[0].config.span == span
    assert back.steps[0].needs == ()


def test_span_does_not_affect_equality() -> None:
    assert Str("x", Span("a", 1, 1, 1, 2)) == Str("x", Span("b", 9, 9, 9, 9))
    assert Str("x") != Int(1)
