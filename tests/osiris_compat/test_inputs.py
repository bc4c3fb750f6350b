"""The ``inputs`` step key of Osiris's pipeline-format reference: ``NAME: "${STEP_ID.df}"``.

Osiris's compiler ignores it (data follows ``needs`` or the step above), so its reference's multi-source example
feeds both writers from the last extract. osirisc reads the inputs' steps as the step's dependencies
(docs/oml.md): these tests show the graph that results and each refusal.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from osiris.compile import compile_file
from osiris.frontend.print_oml import to_oml

ABSENT = {"OSR-W202", "OSR-W211"}  # the CSVs do not exist, so the SQL is parsed but not bound

HEAD = """\
oml_version: "0.1.0"
name: inputs-demo
steps:
  - id: read-a
    component: filesystem.csv_extractor
    mode: read
    config: {path: a.csv, columns: [x]}
  - id: read-b
    component: filesystem.csv_extractor
    mode: read
    config: {path: b.csv, columns: [x]}
"""


def check(tmp_path: Path, steps: str) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Compile HEAD + ``steps`` (frontend and passes); (each step's effective needs, the diagnostic codes)."""
    text = HEAD + textwrap.indent(textwrap.dedent(steps), "  ")
    result = compile_file(str(tmp_path / "p.yaml"), text=text, env={}, until="build_dag")
    codes = [d.code for d in result.diagnostics if d.code not in ABSENT]
    needs = {s.id: s.needs for s in result.pipeline.steps} if result.pipeline is not None else {}
    return needs, codes


def test_inputs_set_the_dependencies_instead_of_the_step_above(tmp_path: Path) -> None:
    # The reference's multi-source shape: without inputs, save-a would depend on read-b (the step above it).
    needs, codes = check(
        tmp_path,
        """\
        - id: save-a
          component: filesystem.csv_writer
          mode: write
          inputs: {df: "${read-a.df}"}
          config: {path: out/a.csv}
        - id: save-b
          component: filesystem.csv_writer
          mode: write
          inputs: {df: "${read-b.df}"}
          config: {path: out/b.csv}
        """,
    )
    assert codes == []
    assert needs["save-a"] == ("read-a",) and needs["save-b"] == ("read-b",)


def test_a_transform_with_two_inputs_reads_both_under_their_table_names(tmp_path: Path) -> None:
    text = HEAD + textwrap.indent(
        textwrap.dedent(
            """\
            - id: join
              component: duckdb.processor
              mode: transform
              inputs:
                df_read_a: "${read-a.df}"
                df: "${read-b.df}"
              config: {query: "SELECT a.x FROM df_read_a a JOIN df_read_b b USING (x)"}
            """
        ),
        "  ",
    )
    result = compile_file(str(tmp_path / "p.yaml"), text=text, env={}, until="build_dag")
    assert not [d for d in result.diagnostics if d.code not in ABSENT], result.diagnostics
    assert result.pipeline is not None
    join = result.pipeline.step("join")
    assert join is not None and join.needs == ("read-a", "read-b")
    assert [(i.step, i.name) for i in join.inputs] == [("read-a", "df_read_a"), ("read-b", "df_read_b")]


def test_the_quickstart_form_at_step_id_is_the_same_input(tmp_path: Path) -> None:
    needs, codes = check(
        tmp_path,
        """\
        - id: save
          component: filesystem.csv_writer
          mode: write
          inputs: {df: "@read-a"}
          config: {path: out/a.csv}
        """,
    )
    assert codes == [] and needs["save"] == ("read-a",)


def test_inputs_beside_needs_must_be_among_them(tmp_path: Path) -> None:
    needs, codes = check(
        tmp_path,
        """\
        - id: shape
          component: duckdb.processor
          mode: transform
          needs: [read-a, read-b]
          inputs: {df_read_b: "${read-b.df}"}
          config: {query: SELECT * FROM df_read_b}
        """,
    )
    assert codes == [] and needs["shape"] == ("read-a", "read-b")  # needs wins; the input is one of them
    _, codes = check(  # a writer writes one input, however the two are given
        tmp_path,
        """\
        - id: save
          component: filesystem.csv_writer
          mode: write
          needs: [read-a, read-b]
          inputs: {df: "${read-b.df}"}
          config: {path: out/b.csv}
        """,
    )
    assert codes == ["OSR-E135"]
    _, codes = check(
        tmp_path,
        """\
        - id: save
          component: filesystem.csv_writer
          mode: write
          needs: [read-a]
          inputs: {df: "${read-b.df}"}
          config: {path: out/b.csv}
        """,
    )
    assert codes == ["OSR-E038"]


def test_inputs_refusals(tmp_path: Path) -> None:
    cases = {
        # an unknown step: the same error as an unknown need, at the input
        '{df: "${read-c.df}"}': ["OSR-E030"],
        # another output than df, a bare id, a parameter, not a mapping
        '{df: "${read-a.rows}"}': ["OSR-E037"],
        "{df: read-a}": ["OSR-E037"],
        '{df: "${params.x}"}': ["OSR-E037"],
        '["${read-a.df}"]': ["OSR-E037"],
        # the step itself
        '{df: "${save.df}"}': ["OSR-E031"],
    }
    for inputs, expected in cases.items():
        _, codes = check(
            tmp_path,
            f"""\
            - id: save
              component: filesystem.csv_writer
              mode: write
              inputs: {inputs}
              config: {{path: out/a.csv}}
            """,
        )
        assert codes == expected, (inputs, codes)


def test_a_read_step_takes_no_inputs(tmp_path: Path) -> None:
    _, codes = check(
        tmp_path,
        """\
        - id: read-c
          component: filesystem.csv_extractor
          mode: read
          inputs: {df: "${read-a.df}"}
          config: {path: c.csv}
        """,
    )
    assert codes == ["OSR-E038"]


def test_a_cycle_through_inputs_is_reported(tmp_path: Path) -> None:
    _, codes = check(
        tmp_path,
        """\
        - id: t1
          component: duckdb.processor
          mode: transform
          inputs: {df: "${t2.df}"}
          config: {query: SELECT 1}
        - id: t2
          component: duckdb.processor
          mode: transform
          inputs: {df: "${t1.df}"}
          config: {query: SELECT 1}
        """,
    )
    assert codes == ["OSR-E032"]


def test_fmt_keeps_the_meaning_of_inputs_as_needs(tmp_path: Path) -> None:
    text = HEAD + textwrap.indent(
        '- id: save\n  component: filesystem.csv_writer\n  mode: write\n  inputs: {df: "${read-a.df}"}\n'
        "  config: {path: out/a.csv}\n",
        "  ",
    )
    result = compile_file(str(tmp_path / "p.yaml"), text=text, env={}, frontend_only=True)
    assert result.pipeline is not None
    printed = to_oml(result.pipeline)
    assert "needs:\n      - read-a" in printed or "needs: [read-a]" in printed, printed
    again = compile_file(str(tmp_path / "q.yaml"), text=printed, env={}, until="build_dag")
    assert again.pipeline is not None
    save = again.pipeline.step("save")
    assert save is not None and save.needs == ("read-a",)


def test_empty_inputs_are_as_if_not_written_and_a_step_given_twice_warns(tmp_path: Path) -> None:
    needs, codes = check(
        tmp_path,
        """\
        - id: save
          component: filesystem.csv_writer
          mode: write
          inputs: {}
          config: {path: out/b.csv}
        """,
    )
    assert codes == [] and needs["save"] == ("read-b",)  # the step above, as without inputs
    needs, codes = check(
        tmp_path,
        """\
        - id: save
          component: filesystem.csv_writer
          mode: write
          inputs: {df: "${read-a.df}", again: "@read-a"}
          config: {path: out/b.csv}
        """,
    )
    assert codes == ["OSR-W013"] and needs["save"] == ("read-a",)
