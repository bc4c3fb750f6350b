"""Terminal escapes in pipelines (#13.7): names, values and comments holding ESC/OSC/CSI sequences, BEL or C1
controls are never printed raw by ``osirisc check``; ``--format json`` stays valid JSON holding the text exactly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from osiris.cli import main
from osiris.render import printable

OSC_TITLE = "\x1b]0;title\x07"
RED = "\x1b[31m"
# Raw control characters a terminal acts on: C0 but LF and tab, DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# The step id and a value carry the sequences as escapes of the syntax; the comment carries them raw.
TEXT = f"""pipeline escapes {{
  oml "0.1.0"
  step read: filesystem.csv_extractor read {{ path = "in.csv" }}
  step "sql\\u001b]0;title\\u0007\\u001b[31m\\u009b": duckdb.processor transform {{
    query = "SELECT '\\u001b[31m' FROM t WHERE u = 'postgres://admin:s3cret{RED[1:]}@db/app'"  # {OSC_TITLE} {RED}
  }}
  step write: filesystem.csv_writer write {{ path = "out.csv" }}
}}
"""
OML = """oml_version: "0.1.0"
name: escapes
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: in.csv}
  - id: "sql\\e]0;title\\a\\e[31m\\x9b"
    component: duckdb.processor
    mode: transform
    config:
      query: "SELECT '\\e[31m' FROM input_df WHERE u = 'postgres://admin:s3cret[31m@db/app'"
  - id: write
    component: filesystem.csv_writer
    mode: write
    config: {path: out.csv}
"""
STEP_ID = f"sql{OSC_TITLE}{RED}\x9b"


def _check(path: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", ["escapes.osiris", "escapes.yaml"])
def test_check_prints_no_raw_control_characters(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_text(TEXT if name.endswith(".osiris") else OML, encoding="utf-8")
    code, out, err = _check(path, capsys=capsys)
    assert code == 2
    assert "error[OSR-E181]" in err  # the credentials in the query, reported under the escaped step id
    assert RAW_CONTROL.search(out + err) is None, (out + err).encode("unicode_escape")[:3000]
    assert "sql\\x1b]0;title\\x07\\x1b[31m\\x9b" in err  # the step id, shown escaped

    code, out, err = _check(path, "--format", "json", capsys=capsys)
    assert code == 2
    assert RAW_CONTROL.search(out + err) is None
    messages = [d["message"] for d in json.loads(out)]
    assert any(STEP_ID in m for m in messages), messages  # the exact text, escaped in the JSON


def test_raw_escapes_in_a_quoted_source_line_keep_the_caret_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raw ESC in a YAML comment is a syntax error at its column; the quoted line shows one symbol for it."""
    path = tmp_path / "raw.yaml"
    path.write_text(OML.replace("    mode: transform\n", f"    mode: transform  # {OSC_TITLE}{RED} red\n"))
    code, out, err = _check(path, capsys=capsys)
    assert code == 2 and RAW_CONTROL.search(out + err) is None
    lines = err.splitlines()
    quoted = next(i for i, line in enumerate(lines) if "mode: transform  #" in line)
    assert "# \u241b]0;title\u2407\u241b[31m red" in lines[quoted]
    caret = lines[quoted + 1].index("^")
    assert lines[quoted][caret] == "\u241b"


def test_printable_escapes_every_terminal_control_and_keeps_text() -> None:
    assert printable("a\x1b[31mb\x07c\x9bd\x7fe\u202ef\u2028g") == "a\\x1b[31mb\\x07c\\x9bd\\x7fe\\u202ef\\u2028g"
    assert printable("tab\tstays é 😀 'NULL' \\N") == "tab\tstays é 😀 'NULL' \\N"


def test_a_real_terminal_process_gets_no_escape(tmp_path: Path) -> None:
    path = tmp_path / "escapes.osiris"
    path.write_text(TEXT, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "osiris.cli", "check", str(path)], check=False, capture_output=True, timeout=120
    )
    assert proc.returncode == 2
    assert re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", proc.stdout + proc.stderr) is None


VALID = """pipeline escapes {
  oml "0.1.0"
  step "rd\\u001b]0;title\\u0007\\u009b": filesystem.csv_extractor read { path = "in\\u001b[31m.csv" }
  step write: filesystem.csv_writer write { path = "out.csv" }
}
"""


@pytest.mark.parametrize(
    "args",
    [["graph"], ["graph", "--format", "mermaid"], ["graph", "--format", "dot"], ["build", "-o", "b"], ["plan"]],
    ids=["graph", "mermaid", "dot", "build", "plan"],
)
def test_summaries_of_a_valid_pipeline_print_no_raw_control_characters(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.osiris").write_text(VALID, encoding="utf-8")
    assert main([args[0], "p.osiris", *args[1:]]) == 0
    captured = capsys.readouterr()
    assert RAW_CONTROL.search(captured.out + captured.err) is None, captured.out.encode("unicode_escape")
    if args[0] != "plan":
        assert "rd\\x1b]0;title\\x07\\x9b" in captured.out or "rd\\u001b]0;title\\u0007\\x9b" in captured.out
