"""``osirisc fmt``: canonical output, idempotence, --check, --to conversions, atomic --write."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from osiris.cli import main
from osiris.cli.fmt import format_source
from osiris.frontend.oml import parse_oml
from osiris.frontend.print_oml import to_oml
from osiris.frontend.print_text import to_text
from osiris.frontend.text import parse_text
from osiris.ir import nodes as ir
from osiris.testing.strategies import pipelines

MESSY = """pipeline  demo {   oml "0.1.0"
step   load: filesystem.csv_extractor read {path="in.csv" , delimiter=","   header=true}
  step out: duckdb.writer write needs [load] { table = "t", write_mode = "replace", primary_key = ["id"] }
}
"""


def fmt(tmp_path: Path, name: str, text: str, *args: str) -> tuple[int, Path]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return main(["fmt", str(path), *args]), path


def test_prints_canonical_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = fmt(tmp_path, "p.osiris", MESSY)
    out = capsys.readouterr().out
    assert code == 0
    assert out == (
        "pipeline demo {\n"
        '  oml "0.1.0"\n'
        "\n"
        "  step load: filesystem.csv_extractor read {\n"
        '    path = "in.csv"\n'
        '    delimiter = ","\n'
        "    header = true\n"
        "  }\n"
        "\n"
        "  step out: duckdb.writer write needs [load] {\n"
        '    table = "t"\n'
        '    write_mode = "replace"\n'
        '    primary_key = ["id"]\n'
        "  }\n"
        "}\n"
    )


def test_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, path = fmt(tmp_path, "p.osiris", MESSY, "--check")
    assert code == 2
    assert f"{path} is not canonically formatted" in capsys.readouterr().err
    canonical = format_source(MESSY, "p.osiris", "text", "text")[0]
    assert canonical is not None
    code, _ = fmt(tmp_path, "q.osiris", canonical, "--check")
    assert code == 0
    assert path.read_text(encoding="utf-8") == MESSY  # --check never writes


def test_to_oml_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = fmt(tmp_path, "p.osiris", MESSY, "--to", "oml")
    oml = capsys.readouterr().out
    assert code == 0
    assert "oml_version: 0.1.0\nname: demo\nsteps:\n  - id: load\n" in oml
    from_text = parse_text(MESSY, "p.osiris")[0]
    assert parse_oml(oml, "p.yaml")[0] == from_text
    code, _ = fmt(tmp_path, "p.yaml", oml, "--to", "text")
    assert code == 0
    assert parse_text(capsys.readouterr().out, "x.osiris")[0] == from_text
    code, _ = fmt(tmp_path, "c.yaml", oml, "--check")
    assert code == 0


def test_write_is_atomic_and_in_place(tmp_path: Path) -> None:
    code, path = fmt(tmp_path, "p.osiris", MESSY, "--write")
    assert code == 0
    assert path.read_text(encoding="utf-8") == format_source(MESSY, "p.osiris", "text", "text")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.osiris"]  # the temporary file was renamed away
    before = path.stat().st_ino
    assert main(["fmt", str(path), "--write"]) == 0  # already canonical: left alone
    assert path.stat().st_ino == before


def test_write_refuses_to_drop_comments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "# keep me\n" + MESSY
    code, path = fmt(tmp_path, "p.osiris", text, "--write")
    assert code == 2
    assert "comments" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == text
    code, _ = fmt(tmp_path, "p.osiris", text, "--write", "--drop-comments")
    assert code == 0
    assert "#" not in path.read_text(encoding="utf-8")


def test_write_cannot_change_the_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, path = fmt(tmp_path, "p.osiris", MESSY, "--write", "--to", "oml")
    assert code == 2
    assert path.read_text(encoding="utf-8") == MESSY


def test_invalid_input_gives_diagnostics_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = fmt(tmp_path, "p.osiris", 'pipeline p { oml "0.1.0" step a: x.y read { q: 1 } }', "--write")
    assert code == 2
    assert "error[OSR-E060]" in capsys.readouterr().err
    assert main(["fmt", str(tmp_path / "missing.osiris")]) == 2
    assert "error[OSR-E001]" in capsys.readouterr().err


def test_multiline_strings_are_blocks_in_both_syntaxes() -> None:
    pipeline = ir.Pipeline(
        "p",
        "0.1.0",
        (ir.Step("a", "x.y", "read", ir.Map((ir.Entry("query", ir.Str("SELECT 1\n  FROM t\n")),)), needs=()),),
    )
    text = to_text(pipeline)
    assert '    query = """\n      SELECT 1\n        FROM t\n\n      """\n' in text
    assert "      query: |\n        SELECT 1\n          FROM t\n" in to_oml(pipeline)


@given(pipelines())
def test_fmt_is_idempotent(pipeline: ir.Pipeline) -> None:
    for syntax, render in (("text", to_text), ("oml", to_oml)):
        once = render(pipeline)
        twice = format_source(once, "p", syntax, syntax)[0]
        assert twice == once
