"""``osirisc check``: exit codes, text and JSON output, ``--print-ir``, unreadable files and wrong extensions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from osiris.cli import main
from osiris.ir.serde import from_json

VALID = """\
oml_version: "0.1.0"
name: adults
steps:
  - id: people
    component: filesystem.csv_extractor
    mode: read
    config:
      path: people.csv
  - id: adults
    component: duckdb.processor
    mode: transform
    config:
      query: SELECT * FROM input_df WHERE age >= 18
  - id: save
    component: filesystem.csv_writer
    mode: write
    config:
      path: out.csv
"""
INVALID = VALID.replace("mode: transform", "mode: extract").replace("name: adults", "name: adults\nversion: 2")


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "people.csv").write_text("name,age\nada,36\nbob,12\n", encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(INVALID, encoding="utf-8")
    return tmp_path


def test_valid_file_exits_0(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "ok.yaml"]) == 0
    err = capsys.readouterr().err
    assert "ok: 1 file(s), 0 error(s)" in err


def test_invalid_file_exits_2_with_every_diagnostic(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "bad.yaml"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:3:1: error[OSR-E021]: 'version' is not an OML key" in err
    assert "bad.yaml:12:11: error[OSR-E028]: unknown mode 'extract'" in err
    assert "12 |     mode: extract\n" in err and "Traceback" not in err


def test_json_format(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--format", "json", "bad.yaml"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert [(d["code"], d["line"], d["col"]) for d in data] == [("OSR-E021", 3, 1), ("OSR-E028", 12, 11)]
    first = data[0]
    assert set(first) == {"severity", "code", "message", "file", "line", "col", "end_line", "end_col", "notes"}
    assert (first["severity"], first["file"], first["end_col"]) == ("error", "bad.yaml", 8)
    assert first["notes"] == ["use 'oml_version: \"0.1.0\"' instead"]


def test_print_ir_round_trips(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--print-ir", "ok.yaml"]) == 0
    pipeline = from_json(capsys.readouterr().out)
    assert pipeline.name == "adults"
    assert [s.id for s in pipeline.steps] == ["people", "adults", "save"]
    assert pipeline.steps[0].id_span is not None and str(pipeline.steps[0].id_span) == "ok.yaml:4:9"


def test_unreadable_file(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "missing.yaml"]) == 2
    assert "error[OSR-E001]: cannot read 'missing.yaml'" in capsys.readouterr().err
    (files / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    assert main(["check", "latin1.yaml"]) == 2
    assert "error[OSR-E001]: 'latin1.yaml' is not UTF-8 text" in capsys.readouterr().err


def test_wrong_extension(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (files / "pipeline.txt").write_text(VALID, encoding="utf-8")
    assert main(["check", "pipeline.txt"]) == 2
    assert "error[OSR-E002]: cannot tell the syntax of 'pipeline.txt'" in capsys.readouterr().err
    assert main(["check", "--syntax", "oml", "pipeline.txt"]) == 0


def test_subprocess_shows_no_traceback(files: Path) -> None:
    osirisc = Path(sys.executable).with_name("osirisc")
    (files / "garbage.yaml").write_bytes(b"\x00\xff{[: @\t\n---\n- *x\n")
    run = subprocess.run(
        [str(osirisc), "check", "garbage.yaml", "bad.yaml", "missing.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr + run.stdout
    assert "garbage.yaml" in run.stderr and "error[OSR-E028]" in run.stderr and "error[OSR-E001]" in run.stderr


def test_malformed_param_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "build", "run", "emit", "plan", "graph"):
        with pytest.raises(SystemExit) as exc:
            main([command, "examples/quickstart/pipeline.yaml", "--param", "no-equals-sign"])
        assert exc.value.code == 2
        assert "malformed --param 'no-equals-sign' (expected NAME=VALUE)" in capsys.readouterr().err


def test_a_cold_check_imports_no_startup_weight_it_does_not_use(tmp_path: Path) -> None:
    """The quickstart's check reads its CSV sample with the run's converters, but without pyarrow.compute (~30 ms of
    generated wrappers), parses only the four specs the pipeline names, and opens DuckDB through its engine module
    `_duckdb` without the `duckdb` package's Python helpers (~20-25 ms)."""
    quickstart = Path(__file__).parents[1] / "examples" / "quickstart" / "pipeline.yaml"
    code = (
        "import sys; import osiris.components.registry as r; from osiris.cli import main; "
        "rc = main(['check', sys.argv[1]]); reg = r.default_registry(); "
        "print(rc, 'pyarrow.compute' in sys.modules, 'pyarrow.csv' in sys.modules, len(reg._specs), "
        "'duckdb' in sys.modules, '_duckdb' in sys.modules)"
    )
    env = {**os.environ, "OSIRIS_CACHE_DIR": ""}
    out = subprocess.run(
        [sys.executable, "-c", code, str(quickstart)], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.split()[-6:] == ["0", "False", "True", "4", "False", "True"], out.stdout + out.stderr


def test_ctrl_c_while_the_command_is_imported_is_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing the command's modules is most of a short command's time; Ctrl-C then is no traceback either."""
    import importlib

    import osiris.cli

    real = importlib.import_module

    def interrupted(name: str, *args: object) -> object:
        if name == "osiris.cli.check":
            raise KeyboardInterrupt
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(osiris.cli.importlib, "import_module", interrupted)
    assert main(["check", "examples/quickstart/pipeline.yaml"]) == 130
    assert capsys.readouterr().err == "osirisc: interrupted\n"


@pytest.mark.parametrize("command", ["check", "build"])
def test_an_internal_compiler_error_is_exit_3_not_a_verdict_on_the_file(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """OSR-E009 means osirisc broke (docs: exit 3 for an internal error); the file may be valid, so not exit 2."""
    from osiris.passes import manager

    def broken(pipeline: object, ctx: object) -> object:
        raise RuntimeError("a bug in a pass")

    monkeypatch.setitem(manager.PASSES, "plan-ddl", lambda: broken)
    quickstart = Path(__file__).parents[1] / "examples" / "quickstart" / "pipeline.yaml"
    args = [command, str(quickstart)] + (["-o", str(tmp_path / "b")] if command == "build" else [])
    assert main(args) == 3
    assert "OSR-E009" in capsys.readouterr().err
