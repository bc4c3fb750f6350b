"""Syntax error recovery of the text syntax (osiris/frontend/text_recovery.py): every error once, then the checks.

Each test here reported one error (the first) before recovery; the property tests are
tests/properties/test_text_syntax_errors.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from osiris.cli import main
from osiris.compile import compile_file
from osiris.frontend.text import parse_text_partial
from osiris.frontend.text_recovery import LIMIT
from osiris.testing.mutations import SYNTAX_CODES

THREE_TYPOS = """\
pipeline p {
  oml "0.1.0"
  step a: filesystem.csv_extractor read {
    path = "a.csv"
    delimiter = ,
  }
  step b: duckdb.processor transform needs [a] {
    query = "SELECT 1" "x"
  }
  step c filesystem.csv_writer write needs [b] {
    path = "out.csv"
  }
}
"""
LOCATED = re.compile(r"^p\.osiris:(\d+):(\d+): error\[(OSR-E\d+)\]", re.M)


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[tuple[int, int, str]]]:
    (tmp_path / "p.osiris").write_text(text, encoding="utf-8")
    code = main(["check", str(tmp_path / "p.osiris")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [(int(line), int(col), c) for line, col, c in LOCATED.findall(err.replace(str(tmp_path) + "/", ""))]


def test_three_typos_three_errors_in_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.osiris").write_text(THREE_TYPOS, encoding="utf-8")
    code = main(["check", "p.osiris"])
    err = capsys.readouterr().err
    assert code == 2
    assert [(int(a), int(b)) for a, b, _ in LOCATED.findall(err)] == [(5, 17), (8, 24), (10, 10)], err
    assert "expected ${params.NAME}, '[', '{'" in err  # what was expected, as before
    assert "expected ':' after the step id" in err


def test_clean_steps_are_still_checked_broken_ones_are_not() -> None:
    text = THREE_TYPOS.replace(
        "\n}\n", '\n  step d: filesystem.csv_extractr read {\n    path = "d.csv"\n  }\n}\n'
    )  # an unknown component in a clean step
    result = compile_file("p.osiris", text=text, env={})
    found = [(d.span.line if d.span else 0, d.code) for d in result.diagnostics if d.is_error]
    assert found == [(5, "OSR-E050"), (8, "OSR-E050"), (10, "OSR-E050"), (13, "OSR-E120")], found


def test_a_missing_brace_is_one_error_and_the_steps_after_it_are_checked() -> None:
    text = """\
pipeline p {
  oml "0.1.0"
  step a: filesystem.csv_extractor read {
    path = "a.csv"

  step b: duckdb.processor transform needs [a] {
    query = "SELECT 1"
  }
  step c: filesystem.csv_extractr read { path = "c.csv" }
}
"""
    result = compile_file("p.osiris", text=text, env={})
    found = [(d.span.line if d.span else 0, d.code) for d in result.diagnostics if d.is_error]
    assert found == [(6, "OSR-E059"), (9, "OSR-E120")], found


def test_a_missing_last_brace_loses_nothing() -> None:
    text = 'pipeline p {\n  oml "0.1.0"\n  step a: filesystem.csv_extractr read {\n    path = "a.csv"\n}\n'
    result = compile_file("p.osiris", text=text, env={})
    found = [(d.span.line if d.span else 0, d.code) for d in result.diagnostics if d.is_error]
    assert found == [(1, "OSR-E059"), (3, "OSR-E120")], found


def test_an_error_outside_every_step_stops_after_the_syntax_errors() -> None:
    """A broken parameter may be what any step uses: nothing is checked, nothing is invented (no E100, E058)."""
    text = (
        'pipeline p {\n  oml "0.1.0"\n  param n = ,\n'
        "  step a: x.y read { q = , }\n  step b: x.y read { n = ${params.n} }\n}\n"
    )
    pipeline, diags, _, _ = parse_text_partial(text, "p.osiris")
    assert pipeline is None
    assert [(d.span.line if d.span else 0, d.code) for d in diags] == [(3, "OSR-E050"), (4, "OSR-E050")]


def test_a_mistyped_step_keyword_keeps_the_step_for_its_neighbours() -> None:
    """`stpe b:` drops step b but keeps its id: `needs [b]` below is no unknown need."""
    text = 'pipeline p {\n  oml "0.1.0"\n  stpe b: x.y read {\n    q = 1\n  }\n  step c: x.y transform needs [b]\n}\n'
    pipeline, diags, broken, _ = parse_text_partial(text, "p.osiris")
    assert [d.code for d in diags] == ["OSR-E062"]
    assert pipeline is not None and [s.id for s in pipeline.steps] == ["b", "c"] and broken == {"b"}


def test_errors_beyond_the_limit_are_counted_not_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        'pipeline p {\n  oml "0.1.0"\n'
        + "".join(f"  step s{i}: x.y read {{ q = , }}\n" for i in range(LIMIT + 20))
        + "}\n"
    )
    code, found = check(tmp_path, text, capsys)
    assert code == 2 and len(found) == LIMIT
    _, diags, _, _ = parse_text_partial(text, "p.osiris")
    assert diags[LIMIT - 1].notes[-1] == "and 20 more syntax errors after this one"


@pytest.mark.parametrize(
    "text",
    [
        'oml_version: "0.1.0"\nname: x\nsteps:\n  - id: a\n    component: x.y\n',  # YAML given as .osiris
        "pipeline p {\n" + "\x00\x01\x02 ]] }} {{ [[ \x7f\n" * 500,  # binary-ish
        "pipeline p {\n" + "".join(f"  step a{i}: x.y read {{\n" for i in range(300)),  # no '}' at all
        "}" * 1000,
    ],
)
def test_hostile_files_give_few_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    code, found = check(tmp_path, text, capsys)
    syntax = [f for f in found if f[2] in SYNTAX_CODES]
    assert code == 2 and 1 <= len(syntax) <= LIMIT, found


def test_fmt_refuses_every_error_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.osiris"
    path.write_text(THREE_TYPOS, encoding="utf-8")
    assert main(["fmt", str(path), "--write"]) == 2
    err = capsys.readouterr().err
    assert len(re.findall(r"error\[OSR-E050\]", err)) == 3, err
    assert path.read_text(encoding="utf-8") == THREE_TYPOS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.osiris"]
