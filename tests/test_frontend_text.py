"""The text syntax frontend: lowering equals OML's, spans, errors, and round-trip properties of the printers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from osiris.frontend.oml import parse_oml
from osiris.frontend.print_oml import to_oml
from osiris.frontend.print_text import to_text
from osiris.frontend.text import parse_text
from osiris.ir import nodes as ir
from osiris.ir.serde import from_json, to_json
from osiris.ir.span import Span
from osiris.testing.strategies import pipelines

SKETCH = '''# the sketch of the issue
pipeline director-stats {
  oml "0.1.0"
  param min_movies = 2
  step extract-movies: mysql.extractor read {
    connection = @mysql.default
    query = """SELECT * FROM movies"""
  }
  step stats: duckdb.processor transform needs [extract-movies] {
    query = """SELECT director, COUNT(*) AS n FROM input_df GROUP BY 1 HAVING n >= ${params.min_movies}"""
  }
}
'''

SKETCH_OML = """oml_version: "0.1.0"
name: director-stats
params:
  min_movies: 2
steps:
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.default"
      query: SELECT * FROM movies
  - id: stats
    component: duckdb.processor
    mode: transform
    needs: [extract-movies]
    config:
      query: SELECT director, COUNT(*) AS n FROM input_df GROUP BY 1 HAVING n >= ${params.min_movies}
"""


def ok(text: str) -> ir.Pipeline:
    pipeline, diags = parse_text(text, "p.osiris")
    assert pipeline is not None, diags
    assert [d for d in diags if d.is_error] == []
    return pipeline


def codes(text: str) -> list[str]:
    pipeline, diags = parse_text(text, "p.osiris")
    assert (pipeline is None) == any(d.is_error for d in diags)
    return [d.code for d in diags]


def wrap(body: str) -> str:
    return 'pipeline p {\n  oml "0.1.0"\n' + body + "\n}\n"


def test_sketch_lowers_to_the_same_ir_as_oml() -> None:
    text = ok(SKETCH)
    oml, diags = parse_oml(SKETCH_OML, "p.yaml")
    assert diags == []
    assert text == oml
    query = text.steps[1].config.get("query")
    assert query == ir.Template(
        (ir.Str("SELECT director, COUNT(*) AS n FROM input_df GROUP BY 1 HAVING n >= "), ir.ParamRef("min_movies"))
    )
    assert text.steps[0].config.get("connection") == ir.ConnectionRef("mysql", "default")
    assert text.steps[0].needs is None


def test_needs_absent_empty_and_given() -> None:
    p = ok(wrap("step a: x.y read\n step b: x.y read needs []\n step c: x.y write needs [a, b,]"))
    assert [s.needs for s in p.steps] == [None, (), ("a", "b")]
    assert p.steps[0].config == ir.Map()


def test_values_of_every_kind_in_source_order() -> None:
    p = ok(
        wrap(
            "step a: x.y read { z = -3, y = 1.5e-3, x = -2.0, w = true, v = false, u = null, "
            't = [1, [2, {}]], "key with space" = { a = 1, b = [1, 2] }, s = "q\\"\\\\\\n\\t\\u00e9", '
            'whole = ${params.n}, quoted = "${params.n}", conn = "@pg.main", big = 1e308 }'
        )
    )
    config = p.steps[0].config
    assert config.keys() == ("z", "y", "x", "w", "v", "u", "t", "key with space", "s", "whole", "quoted", "conn", "big")
    assert config.get("z") == ir.Int(-3)
    assert config.get("y") == ir.Float(0.0015)
    assert config.get("x") == ir.Float(-2.0)
    assert config.get("w") == ir.Bool(True) and config.get("u") == ir.Null()
    assert config.get("t") == ir.List((ir.Int(1), ir.List((ir.Int(2), ir.Map()))))
    assert config.get("key with space") == ir.Map(
        (ir.Entry("a", ir.Int(1)), ir.Entry("b", ir.List((ir.Int(1), ir.Int(2)))))
    )
    assert config.get("s") == ir.Str('q"\\\n\té')
    assert config.get("whole") == config.get("quoted") == ir.ParamRef("n")
    assert config.get("conn") == ir.ConnectionRef("pg", "main")
    assert config.get("big") == ir.Float(1e308)


def test_metadata_and_schedule_stay_literal_like_oml() -> None:
    p = ok(
        wrap('metadata { a = @x.y, b = "${params.q}", n = { deep = [1] } }\n schedule "0 * * * *"\n step a: x.y read')
    )
    assert p.metadata == ir.Map(
        (
            ir.Entry("a", ir.Str("@x.y")),
            ir.Entry("b", ir.Str("${params.q}")),
            ir.Entry("n", ir.Map((ir.Entry("deep", ir.List((ir.Int(1),))),))),
        )
    )
    assert p.schedule == ir.Str("0 * * * *")


def test_params_profiles_description() -> None:
    p = ok(
        wrap(
            'description "d"\n param a = 2 description "the a"\n param b\n param c = null\n'
            " profile dev { a = 1 }\n step s: x.y read"
        )
    )
    assert p.description == "d"
    assert p.params == (ir.Param("a", ir.Int(2), "the a"), ir.Param("b"), ir.Param("c", ir.Null()))
    assert p.profiles == (ir.Profile("dev", ir.Map((ir.Entry("a", ir.Int(1)),))),)


def test_triple_quoted_block_strips_common_indentation() -> None:
    text = wrap('step a: x.y read {\n    query = """\n      SELECT a,\n        b\n\n      FROM t\n      """\n  }')
    assert ok(text).steps[0].config.get("query") == ir.Str("SELECT a,\n  b\n\nFROM t")
    inline = wrap('step a: x.y read { query = """  keep "this" as is  """ }')
    assert ok(inline).steps[0].config.get("query") == ir.Str('  keep "this" as is  ')


def test_keywords_work_as_keys_and_ids() -> None:
    p = ok(wrap("step step: x.y read { step = 1, needs = 2, true = 3, pipeline = 4 }"))
    assert p.steps[0].id == "step"
    assert p.steps[0].config.keys() == ("step", "needs", "true", "pipeline")


def test_spans_come_from_the_source() -> None:
    p = ok(SKETCH)
    step = p.steps[1]
    assert step.id_span == Span("p.osiris", 9, 8, 9, 13)
    assert step.component_span == Span("p.osiris", 9, 15, 9, 31)
    assert step.mode_span == Span("p.osiris", 9, 32, 9, 41)
    assert step.needs_spans == (Span("p.osiris", 9, 49, 9, 63),)
    entry = p.steps[0].config.entry("connection")
    assert entry is not None and entry.key_span == Span("p.osiris", 6, 5, 6, 15)
    assert entry.value.span == Span("p.osiris", 6, 18, 6, 32)
    assert p.name_span == Span("p.osiris", 2, 10, 2, 24)


def test_syntax_errors_have_friendly_codes_and_positions() -> None:
    cases = {
        wrap("stpe a: x.y read"): ("OSR-E062", 3, 1),
        wrap('step a: x.y read { query: "x" }'): ("OSR-E060", 3, 25),
        wrap("step a: x.y read { query = SELECT * FROM t }"): ("OSR-E061", 3, 28),
        wrap('step a: x.y read { q = "abc }'): ("OSR-E051", 3, 24),
        wrap("step a: { }"): ("OSR-E063", 3, 9),
        wrap("step a: x.y read { q = 1\n step b: x.y read"): ("OSR-E059", 4, 7),
        'pipeline p {\n  oml "0.1.0"\n  step a: x.y read { q = 1\n': ("OSR-E059", 3, 20),
        wrap('step a: x.y read { q = "\\q" }'): ("OSR-E052", 3, 25),
    }
    for text, (code, line, col) in cases.items():
        pipeline, diags = parse_text(text, "p.osiris")
        assert pipeline is None
        assert [(d.code, d.span.line, d.span.col) for d in diags if d.span] == [(code, line, col)], text


def test_semantic_checks_mirror_oml() -> None:
    assert codes(wrap("step a: x.y raed")) == ["OSR-E055"]
    assert codes(wrap("step a: x.y read { q = 1, q = 2 }")) == ["OSR-E053"]
    assert codes(wrap("step a: x.y read\n step a: x.y read")) == ["OSR-E029"]
    assert codes(wrap("step a: x.y read needs [b]")) == ["OSR-E030"]
    assert codes(wrap("step a: x.y read needs [a]")) == ["OSR-E031"]
    assert codes(wrap("step a: x.y read needs [b]\n step b: x.y read needs [a]")) == ["OSR-E032"]
    assert codes(wrap("step a: x.y read { c = @mysql }")) == ["OSR-E056"]
    assert codes(wrap('step a: x.y read { q = "${HOME}/x" }')) == ["OSR-E057"]
    assert codes(wrap("step a: read")) == ["OSR-E063"]
    assert codes(wrap("step a: x.y")) == ["OSR-E055"]
    assert codes(wrap("param a-b = 1\n step a: x.y read")) == ["OSR-E064"]
    assert codes(wrap("param a = 1\n param a = 2\n step a: x.y read")) == ["OSR-E054"]
    assert codes("pipeline p { step a: x.y read }") == ["OSR-E058"]
    assert codes('pipeline Bad_Name { oml "0.1.0" step a: x.y read }') == ["OSR-W050"]
    assert codes(wrap("step a: x.y read\n step b: x.y write needs [a, a]")) == ["OSR-W051"]
    # a transform without needs depends on the step above: a cycle through that implicit edge is reported too
    assert codes(wrap("step a: x.y read needs [b]\n step b: x.y transform")) == ["OSR-E032"]


# --------------------------------------------------------------------------- properties


@given(pipelines())
def test_text_round_trip(pipeline: ir.Pipeline) -> None:
    back, diags = parse_text(to_text(pipeline), "p.osiris")
    assert [d for d in diags if d.is_error] == []
    assert back == pipeline


@given(pipelines())
def test_oml_round_trip(pipeline: ir.Pipeline) -> None:
    back, diags = parse_oml(to_oml(pipeline), "p.yaml")
    assert [d for d in diags if d.is_error] == []
    assert back == pipeline


@given(pipelines())
def test_oml_and_text_give_equal_ir(pipeline: ir.Pipeline) -> None:
    assert parse_oml(to_oml(pipeline), "p.yaml")[0] == parse_text(to_text(pipeline), "p.osiris")[0]


@given(pipelines())
def test_ir_json_round_trip(pipeline: ir.Pipeline) -> None:
    parsed = parse_text(to_text(pipeline), "p.osiris")[0]
    assert parsed is not None
    back = from_json(to_json(parsed))
    assert back == pipeline
    assert back.steps[0].span == parsed.steps[0].span


_TOKENS = st.sampled_from(
    [
        "pipeline",
        "p",
        "{",
        "}",
        "step",
        "a:",
        "x.y",
        "read",
        "=",
        '"s"',
        '"""',
        "[",
        "]",
        ",",
        "@m.d",
        "${params.x}",
        "${",
        "\\",
        "#c\n",
        "\n",
        'oml "0.1.0"',
        "needs",
        "1",
        "-2.5e3",
    ]
)


@given(st.one_of(st.text(), st.lists(_TOKENS).map(" ".join)))
def test_any_text_gives_diagnostics_not_exceptions(text: str) -> None:
    pipeline, diags = parse_text(text, "p.osiris")
    assert pipeline is not None or any(d.is_error for d in diags)
    assert all(d.span is None or d.span.line >= 1 for d in diags)


@given(st.binary())
def test_any_bytes_decoded_never_raise(data: bytes) -> None:
    pipeline, diags = parse_text(data.decode("utf-8", errors="replace"), "p.osiris")
    assert pipeline is not None or diags
