"""The OML frontend: lowering to the IR (values, references, templates, legacy spellings, params and profiles),
exact spans, error recovery, and that no input whatsoever makes it raise."""

from __future__ import annotations

import textwrap

from hypothesis import given
from hypothesis import strategies as st

from osiris.frontend.oml import parse_oml
from osiris.ir import nodes as ir
from osiris.ir.diagnostics import Diagnostic
from osiris.ir.serde import from_json, to_json
from osiris.ir.span import Span

F = "p.yaml"
VALID = """\
oml_version: "0.1.0"
name: movies-demo
description: Movies by director
metadata: {owner: data, tags: [a, b]}
schedule: {cron: "0 2 * * *"}
params:
  min_movies: 2
  target: {default: out.csv, description: where to write}
  must:
profiles:
  dev: {params: {min_movies: 1}}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.default"
      query: "SELECT * FROM t WHERE n > ${params.min_movies}"
      limit: ${params.min_movies}
      ratio: 0.5
      header: true
      nothing: null
      cols: [a, 1]
  - id: save
    uses: filesystem.csv_writer
    mode: write
    needs: [extract]
    with:
      path: ${params.target}
  - id: root
    component: duckdb.processor
    mode: transform
    needs: []
    config: {query: SELECT 1}
"""


def parse(text: str) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    return parse_oml(textwrap.dedent(text), F)


def codes(text: str) -> list[str]:
    return [d.code for d in parse(text)[1]]


def ok(text: str, *allowed: str) -> ir.Pipeline:
    """The pipeline of a valid text; its only diagnostics are warnings with the ``allowed`` codes."""
    pipeline, diags = parse(text)
    assert pipeline is not None, diags
    assert not [d for d in diags if d.code not in allowed or d.is_error], diags
    return pipeline


def test_valid_pipeline_lowers_every_part() -> None:
    p = ok(VALID, "OSR-W015")
    assert (p.name, p.oml_version, p.description) == ("movies-demo", "0.1.0", "Movies by director")
    assert p.metadata == ir.Map(
        (ir.Entry("owner", ir.Str("data")), ir.Entry("tags", ir.List((ir.Str("a"), ir.Str("b")))))
    )
    assert p.schedule == ir.Map((ir.Entry("cron", ir.Str("0 2 * * *")),))
    assert p.params == (
        ir.Param("min_movies", ir.Int(2)),
        ir.Param("target", ir.Str("out.csv"), "where to write"),
        ir.Param("must", None),
    )
    assert p.profiles == (ir.Profile("dev", ir.Map((ir.Entry("min_movies", ir.Int(1)),))),)
    extract, save, root = p.steps
    assert (extract.id, extract.component, extract.mode, extract.needs) == ("extract", "mysql.extractor", "read", None)
    config = extract.config
    assert config.get("connection") == ir.ConnectionRef("mysql", "default")
    assert config.get("query") == ir.Template((ir.Str("SELECT * FROM t WHERE n > "), ir.ParamRef("min_movies")))
    assert config.get("limit") == ir.ParamRef("min_movies")
    assert config.get("ratio") == ir.Float(0.5)
    assert config.get("header") == ir.Bool(True)
    assert config.get("nothing") == ir.Null()
    assert config.get("cols") == ir.List((ir.Str("a"), ir.Int(1)))
    # legacy spellings: uses = component, with = config (each with deprecation warning OSR-W015)
    assert [d.code for d in parse(VALID)[1]] == ["OSR-W015", "OSR-W015"]
    assert (save.component, save.needs, save.config.get("path")) == (
        "filesystem.csv_writer",
        ("extract",),
        ir.ParamRef("target"),
    )
    assert root.needs == ()


def test_spans_are_exact() -> None:
    p = ok(VALID, "OSR-W015")
    assert p.name_span == Span(F, 2, 7, 2, 18)
    assert p.span == Span(F, 1, 1, 35, 1)  # the whole document: 34 lines and the final line break
    extract, save, _ = p.steps
    assert extract.id_span == Span(F, 13, 9, 13, 16)
    assert extract.component_span == Span(F, 14, 16, 14, 31)
    assert extract.mode_span == Span(F, 15, 11, 15, 15)
    assert save.needs_spans == (Span(F, 27, 13, 27, 20),)
    conn = extract.config.entry("connection")
    assert conn is not None and conn.key_span == Span(F, 17, 7, 17, 17)
    assert conn.value.span == Span(F, 17, 19, 17, 35)
    query = extract.config.get("query")
    assert isinstance(query, ir.Template)
    assert query.parts[1].span == Span(F, 18, 41, 18, 61)  # the placeholder inside the quoted string
    assert p.params[0].span == Span(F, 7, 3, 7, 16)


def test_ir_round_trips_through_json() -> None:
    p = ok(VALID, "OSR-W015")
    assert from_json(to_json(p)) == p


def test_yaml_11_booleans_kept_with_a_warning_and_keys_stay_text() -> None:
    p, diags = parse("""\
        oml_version: "0.1.0"
        name: x
        steps:
          - id: a
            component: c.d
            mode: read
            config: {on: yes, off: "no", perms: 0755, t: 1:20, d: 2024-01-01}
        """)
    assert p is not None
    config = p.steps[0].config
    assert config.keys() == ("on", "off", "perms", "t", "d")
    assert config.get("on") == ir.Bool(True)
    assert config.get("off") == ir.Str("no")
    assert config.get("perms") == ir.Int(0o755)
    assert config.get("t") == ir.Int(80)
    assert config.get("d") == ir.Str("2024-01-01")
    assert [(d.code, d.span.col if d.span else 0) for d in diags] == [
        ("OSR-W012", 18),
        ("OSR-W012", 41),
        ("OSR-W012", 50),
    ]


def test_aliases_and_merge_keys_are_resolved() -> None:
    p = ok("""\
        oml_version: "0.1.0"
        name: x
        steps:
          - id: a
            component: c.d
            mode: read
            config: &base {path: in.csv, sep: ","}
          - id: b
            component: c.d
            mode: read
            config:
              <<: *base
              path: other.csv
        """)
    assert p.steps[0].config.get("path") == ir.Str("in.csv")
    assert p.steps[1].config.keys() == ("path", "sep")
    assert p.steps[1].config.get("path") == ir.Str("other.csv")


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = codes("""\
        oml_version: 0.1
        name: Bad Name
        tasks: []
        extra: 1
        steps:
          - id: a
            component: x.y
            uses: x.y
            mode: extract
            needs: [a, zz]
            config: {connection: "@bad", q: "${foo}"}
          - id: a
            mode: read
            component: x.y
          - 5
        """)
    assert sorted(set(found)) == [
        "OSR-E021", "OSR-E022", "OSR-E024", "OSR-E027", "OSR-E028", "OSR-E029",
        "OSR-E030", "OSR-E031", "OSR-E033", "OSR-E034", "OSR-W010", "OSR-W011",
    ]  # fmt: skip


def test_duplicate_keys_point_at_both_positions() -> None:
    _, diags = parse("oml_version: '0.1.0'\nname: x\nname: y\nsteps: []\n")
    dup = next(d for d in diags if d.code == "OSR-E014")
    assert dup.span == Span(F, 3, 1, 3, 5)
    assert dup.notes == (f"'name' is first defined at {F}:2:1",)


def test_cycle_names_its_path() -> None:
    _, diags = parse("""\
        oml_version: "0.1.0"
        name: x
        steps:
          - {id: a, component: c.d, mode: read, needs: [c]}
          - {id: b, component: c.d, mode: read, needs: [a]}
          - {id: c, component: c.d, mode: read, needs: [b]}
        """)
    (cycle,) = diags
    assert (cycle.code, cycle.message) == ("OSR-E032", "dependency cycle: a -> c -> b -> a")


def test_placeholder_forms() -> None:
    assert codes(_with_value('"${params.}"')) == ["OSR-E034"]
    assert codes(_with_value('"${HOME}"')) == ["OSR-E034"]
    assert codes(_with_value('"abc ${params.x"')) == ["OSR-E034"]
    assert codes(_with_value('"${params.ok} and $$ {x}"')) == []
    assert codes(_with_value('"@mysql.a.b"')) == ["OSR-E033"]
    assert codes(_with_value('"user@example.com"')) == []


def _with_value(value: str) -> str:
    return f'oml_version: "0.1.0"\nname: x\nsteps:\n  - {{id: a, component: c.d, mode: read, config: {{v: {value}}}}}\n'


def test_document_shape_problems() -> None:
    assert codes("") == ["OSR-E011"]
    assert codes("---\n") == ["OSR-E011"]
    assert codes("a: 1\n---\nb: 2\n") == ["OSR-E012"]
    assert codes("[1, 2]") == ["OSR-E013"]
    assert codes("key: [unclosed") == ["OSR-E010"]
    assert codes("a: *nope\n") == ["OSR-E010"]
    assert codes("x: \x00\n") == ["OSR-E010"]
    assert codes("[" * 2000) == ["OSR-E017"]
    lines = ["metadata:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    bomb = 'oml_version: "0.1.0"\nname: x\n' + "\n".join(lines) + "\n"
    assert "OSR-E017" in codes(bomb)


def test_missing_keys_are_reported_at_the_document_start() -> None:
    _, diags = parse("description: nothing else\n")
    assert [(d.code, d.span) for d in diags] == [("OSR-E020", Span.point(F, 1, 1))] * 3


YAML_ALPHABET = st.sampled_from([*"abc:-[]{}&*!|>'\"#@%`$.,? \t\n0123456789", "${params.", "  - ", "\u00e9"])


@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    pipeline, diags = parse_oml(text, F)
    assert all(d.code != "OSR-E009" for d in diags), diags
    assert pipeline is None or not any(d.is_error for d in diags)


@given(st.lists(YAML_ALPHABET, max_size=60).map("".join))
def test_yaml_like_text_never_raises(text: str) -> None:
    _, diags = parse_oml(text, F)
    assert all(d.code != "OSR-E009" for d in diags), diags


@given(st.binary())
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _, diags = parse_oml(data.decode("utf-8", errors="replace"), F)
    assert all(d.code != "OSR-E009" for d in diags), diags
