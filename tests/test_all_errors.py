"""Every independent mistake of a file in one run (passes/poison.py), in both syntaxes and through every interface.

One file holds mistakes that different stages find: the frontend (unknown step keys in two steps), resolve_params
(an unknown parameter), bind_components (an unknown component), the frontend's graph rules (a cycle in another part),
build_dag (a writer without input), validate_config (bad enums, a forbidden connection-field override),
redact_secrets (an inline secret) and infer_schemas (an SQL error). Each is reported exactly once, at its own
position, sorted by position; the steps that read from a broken step report nothing of their own (no cascade).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris.agent.tools import Tools
from osiris.agent.workspace import Workspace
from osiris.cli import main
from osiris.compile import compile_file
from osiris.frontend import load
from osiris.ir.diagnostics import sort_key
from osiris.ir.serde import from_json
from osiris.passes.manager import run_passes
from osiris.passes.poison import Poison

SECRET = "hunter2-Zq8"

OML = f"""\
oml_version: "0.1.0"
name: many-mistakes
steps:
  - id: typo-key
    component: mysql.extractor
    mode: read
    confg:
      connection: "@mysql.db"
  - id: bad-component
    component: mysql.extractr
    mode: read
    config:
      query: SELECT 1
  - id: reads-bad-component
    component: duckdb.processor
    mode: transform
    config:
      query: SELECT * FROM input_df WHERE no_such_column > 1
  - id: csv
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data.csv
  - id: bad-sql
    component: duckdb.processor
    mode: transform
    needs: [csv]
    config:
      query: SELECT nope FROM input_df
  - id: writes-bad-sql
    component: postgres.writer
    mode: write
    config:
      connection: "@postgres.db"
      table: t
      write_mode: upsert
      primary_key: nope
  - id: bad-enum
    component: postgres.writer
    mode: write
    needs: [csv]
    config:
      connection: "@postgres.db"
      table: t
      write_mode: upsertt
  - id: secret
    component: mysql.extractor
    mode: read
    config:
      host: localhost
      database: d
      user: u
      password: {SECRET}
      query: SELECT 1
  - id: override
    component: mysql.writer
    mode: write
    needs: [csv]
    config:
      connection: "@mysql.db"
      user: someone
      table: t
  - id: c1
    component: duckdb.processor
    mode: transform
    needs: [c2]
    config:
      query: SELECT 1
  - id: c2
    component: duckdb.processor
    mode: transform
    needs: [c1]
    config:
      query: SELECT 1
  - id: after-cycle
    component: duckdb.writer
    mode: write
    needs: [c2]
    config:
      path: out.duckdb
      table: t
  - id: orphan-writer
    component: postgres.writer
    mode: write
    needs: []
    config:
      connection: "@postgres.db"
      table: t
      write_mode: sideways
  - id: param
    component: duckdb.processor
    mode: transform
    needs: [csv]
    config:
      query: SELECT * FROM input_df WHERE id > ${{params.nope}}
  - id: typo-again
    component: filesystem.csv_writer
    mode: write
    needs: [csv]
    neds: [csv]
    config:
      path: out.csv
"""

# (code, the text it is reported at, which occurrence of that text) in file order
OML_EXPECTED = [
    ("OSR-E026", "confg", 1),
    ("OSR-E120", "mysql.extractr", 1),
    ("OSR-E203", "nope FROM", 1),
    ("OSR-E153", "upsertt", 1),
    ("OSR-E180", SECRET, 1),
    ("OSR-E158", "user: someone", 1),
    ("OSR-E032", "c2]", 1),
    ("OSR-E133", "write\n    needs: []", 1),  # orphan-writer's mode
    ("OSR-E153", "sideways", 1),
    ("OSR-E100", "${params.nope}", 1),
    ("OSR-E026", "neds", 1),
]

TEXT = f"""\
pipeline many-mistakes {{
  oml "0.1.0"
  step bad-mode: mysql.extractor raed {{
    connection = @mysql.db
  }}
  step bad-component: mysql.extractr read {{
    query = "SELECT 1"
  }}
  step reads-bad-component: duckdb.processor transform {{
    query = "SELECT * FROM input_df WHERE no_such_column > 1"
  }}
  step csv: filesystem.csv_extractor read {{
    path = "data.csv"
  }}
  step bad-sql: duckdb.processor transform needs [csv] {{
    query = "SELECT nope FROM input_df"
  }}
  step writes-bad-sql: postgres.writer write {{
    connection = @postgres.db
    table = "t"
    write_mode = "upsert"
    primary_key = "nope"
  }}
  step bad-enum: postgres.writer write needs [csv] {{
    connection = @postgres.db
    table = "t"
    write_mode = "upsertt"
  }}
  step secret: mysql.extractor read {{
    host = "localhost"
    database = "d"
    user = "u"
    password = "{SECRET}"
    query = "SELECT 1"
  }}
  step override: mysql.writer write needs [csv] {{
    connection = @mysql.db
    user = "someone"
    table = "t"
  }}
  step c1: duckdb.processor transform needs [c2] {{ query = "SELECT 1" }}
  step c2: duckdb.processor transform needs [c1] {{ query = "SELECT 1" }}
  step after-cycle: duckdb.writer write needs [c2] {{ path = "out.duckdb", table = "t" }}
  step orphan-writer: postgres.writer write needs [] {{
    connection = @postgres.db
    table = "t"
    write_mode = "sideways"
  }}
  step param: duckdb.processor transform needs [csv] {{
    query = "SELECT * FROM input_df WHERE id > ${{params.nope}}"
  }}
  step dup-key: filesystem.csv_writer write needs [csv] {{
    path = "out.csv"
    path = "again.csv"
  }}
}}
"""

TEXT_EXPECTED = [
    ("OSR-E055", "raed", 1),
    ("OSR-E120", "mysql.extractr", 1),
    ("OSR-E203", "nope FROM", 1),
    ("OSR-E153", '"upsertt"', 1),
    ("OSR-E180", f'"{SECRET}"', 1),
    ("OSR-E158", 'user = "someone"', 1),
    ("OSR-E032", "c2]", 1),
    ("OSR-E133", "write needs []", 1),
    ("OSR-E153", '"sideways"', 1),
    ("OSR-E100", '"SELECT * FROM input_df WHERE id >', 1),  # (the text syntax places it at the string)
    ("OSR-E053", 'path = "again', 1),
]


def _at(text: str, needle: str, nth: int) -> tuple[int, int]:
    """1-based line and column of the ``nth`` occurrence of ``needle``."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _expected(name: str, text: str, expected: list[tuple[str, str, int]]) -> list[str]:
    return [f"{name}:{line}:{col} {code}" for code, needle, nth in expected for line, col in [_at(text, needle, nth)]]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("id,name\n1,a\n2,b\n", encoding="utf-8")
    (tmp_path / "many.yaml").write_text(OML, encoding="utf-8")
    (tmp_path / "many.osiris").write_text(TEXT, encoding="utf-8")
    return tmp_path


CASES = [("many.yaml", OML, OML_EXPECTED), ("many.osiris", TEXT, TEXT_EXPECTED)]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=["oml", "text"])
def test_every_independent_mistake_once_at_its_position(
    folder: Path, name: str, text: str, expected: list[tuple[str, str, int]]
) -> None:
    result = compile_file(name, env={})
    errors = sorted((d for d in result.diagnostics if d.is_error), key=sort_key)
    got = [f"{d.span}: {d.code}".replace(": ", " ", 1) for d in errors]
    assert got == _expected(name, text, expected)
    assert not [d for d in result.diagnostics if not d.is_error]  # no W211 for the steps reading broken ones
    assert all(SECRET not in d.message + " ".join(d.notes) for d in result.diagnostics)


def test_the_frontend_keeps_the_steps_around_broken_ones(folder: Path) -> None:
    """A broken step stays in place (the step below still reads from it), as a root whose needs are unchecked."""
    parsed = load("many.yaml", partial=True)
    assert parsed.pipeline is not None
    assert parsed.broken == {"typo-key", "c1", "c2", "typo-again"}
    ids = [s.id for s in parsed.pipeline.steps]
    assert ids[:3] == ["typo-key", "bad-component", "reads-bad-component"]
    assert all(parsed.pipeline.step(sid).needs == () for sid in parsed.broken)  # type: ignore[union-attr]
    assert load("many.yaml").pipeline is None  # without `partial`, a file with errors has no pipeline


def test_a_pipeline_level_error_still_stops_before_the_passes(folder: Path) -> None:
    """An error outside every step (here a parameter declaration) leaves nothing that could be checked safely."""
    (folder / "global.yaml").write_text(OML.replace("steps:\n", "params:\n  9bad: 1\nsteps:\n", 1), encoding="utf-8")
    result = compile_file("global.yaml", env={})
    errors = sorted((d for d in result.diagnostics if d.is_error), key=sort_key)
    assert [d.code for d in errors] == ["OSR-E035", "OSR-E026", "OSR-E032", "OSR-E026"]
    assert result.pipeline is None


def test_a_forbidden_top_level_key_does_not_hide_the_steps_problems(folder: Path) -> None:
    """`tasks:` is refused and not lowered: the IR is as without it, so the steps are still checked."""
    text = OML.replace("steps:\n", "tasks: []\nsteps:\n", 1)
    (folder / "tasks.yaml").write_text(text, encoding="utf-8")
    result = compile_file("tasks.yaml", env={})
    got = [f"{d.span}: {d.code}".replace(": ", " ", 1) for d in sorted(result.diagnostics, key=sort_key) if d.is_error]
    assert got == _expected("tasks.yaml", text, [("OSR-E021", "tasks", 1), *OML_EXPECTED])


def test_an_unattributed_pass_error_stops_after_that_pass(folder: Path) -> None:
    """--param naming no declared parameter is no step's error: resolve_params reports all of its own and stops."""
    result = compile_file("many.yaml", env={}, params={"undeclared": "1"})
    codes = [d.code for d in sorted(result.diagnostics, key=sort_key) if d.is_error]
    assert codes == ["OSR-E102", "OSR-E026", "OSR-E032", "OSR-E100", "OSR-E026"]  # (E102 has no position)


def test_poison_rules(folder: Path) -> None:
    """Which pass skips what: a writer without input (build-dag) is still validated; infer-schemas skips it."""
    poison = Poison().add("build-dag", ["w"]).add("bind-components", ["x"]).add("frontend", ["f"])
    assert poison.skipped_by("validate-config") == {"x", "f"}
    assert poison.skipped_by("redact-secrets") == {"x", "f"}
    assert poison.skipped_by("infer-schemas") == {"w", "x", "f"}
    assert poison.skipped_by("fingerprint") == {"w", "x", "f"}  # a pass not in RELIES_ON: everything
    assert poison.unverified() == {"f"}
    parsed = load("many.yaml", partial=True)
    assert parsed.pipeline is not None
    from osiris.compile import make_context

    result = run_passes(parsed.pipeline, make_context(env={}, sources={}), broken=parsed.broken)
    assert {"orphan-writer", "bad-enum", "bad-sql", "param", "secret"} <= result.broken  # type: ignore[operator]
    assert "reads-bad-component" not in result.broken  # type: ignore[operator]


def test_check_json_lists_every_error_sorted(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--format", "json", "many.yaml"]) == 2
    data = json.loads(capsys.readouterr().out)
    got = [f"{d['file']}:{d['line']}:{d['col']} {d['code']}" for d in data if d["severity"] == "error"]
    assert got == _expected("many.yaml", OML, OML_EXPECTED)
    assert SECRET not in json.dumps(data)


def test_mcp_check_tool_reports_every_error(folder: Path) -> None:
    tools = Tools(Workspace(folder), env={})
    result = tools.check("many.osiris")
    assert result["ok"] is False
    assert result["errors"] == len(TEXT_EXPECTED)
    got = [f"{d['file']}:{d['line']}:{d['col']} {d['code']}" for d in result["diagnostics"]]
    assert got == _expected("many.osiris", TEXT, TEXT_EXPECTED)
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("stage", ["redact-secrets", "infer-schemas", "plan-ddl"])
def test_print_ir_after_shows_the_partial_ir_without_secrets(
    folder: Path, stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After redact-secrets, a secret is masked in every step, including the steps no pass checks."""
    before = "      query: SELECT 1\n  - id: reads"  # in step bad-component (unknown component: redact skips it)
    secret_in_broken = OML.replace(before, f"      password: {SECRET}\n  - id: reads", 1)
    (folder / "secret.yaml").write_text(secret_in_broken, encoding="utf-8")
    assert main(["check", "--print-ir-after", stage, "secret.yaml"]) == 2
    out = capsys.readouterr().out
    pipeline = from_json(out)
    assert [s.id for s in pipeline.steps][:2] == ["typo-key", "bad-component"]
    assert SECRET not in out
    assert main(["check", "--print-ir-after", "fingerprint", "secret.yaml"]) == 2
    assert capsys.readouterr().out == ""  # the plan (and its fingerprint) exists only for a valid pipeline


def test_a_literal_secret_of_the_wrong_type_is_one_report(folder: Path) -> None:
    """`password: 12345` (or a list) is an inline secret (redact_secrets) and not also "must be a string"
    (validate_config): the one fix, a reference, mends both."""
    text = OML.replace(f"password: {SECRET}", "password: 12345")
    (folder / "typed.yaml").write_text(text, encoding="utf-8")
    codes = [(d.span.line, d.code) for d in compile_file("typed.yaml", env={}).diagnostics if d.span and d.is_error]
    line = _at(text, "12345", 1)[0]
    assert [code for at, code in codes if at == line] == ["OSR-E180"]
    (folder / "list.yaml").write_text(OML.replace(f"password: {SECRET}", "password: [1, 2]"), encoding="utf-8")
    codes = [(d.span.line, d.code) for d in compile_file("list.yaml", env={}).diagnostics if d.span and d.is_error]
    assert [code for at, code in codes if at == line] == ["OSR-E180"]
