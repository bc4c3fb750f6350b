"""``osirisc components list|show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris.cli import main
from osiris.components.registry import Registry


def test_list_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["components", "list"]) == 0
    out = capsys.readouterr().out
    assert "mysql.extractor" in out and "supabase.writer" in out
    assert main(["components", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name": "duckdb.processor", "version": "1.0.0", "modes": ["transform"]} in rows
    assert len(rows) == 13


def test_show_json_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["components", "show", "postgres.writer", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    fields = {f["name"]: f for f in data["fields"]}
    assert fields["table"]["required"] is True
    assert fields["password"]["secret"] is True and fields["table"]["secret"] is False
    assert fields["write_mode"]["enum"] == ["append", "replace", "upsert", "truncate"]
    assert fields["write_mode"]["default"] == "append"
    assert data["connection_fields"]["password"] == "forbidden"
    assert data["modes"] == ["write"] and data["example"]["table"] == "director_stats"


def test_show_text_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["components", "show", "mysql.extractor"]) == 0
    out = capsys.readouterr().out
    assert "password" in out and "[required, secret]" in out and "connection fields" in out and "example config" in out
    assert main(["components", "show", "mysql.extractr"]) == 2
    assert "did you mean 'mysql.extractor'?" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["list"], ["show", "duckdb.writer"], ["show", "duckdb.writr"]])
def test_a_broken_builtin_spec_is_a_clear_error(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Built-in specs are parsed when first used, so a broken one is found while listing or showing, not when the
    registry loads: still the file's name and exit 2, not an internal error."""
    import osiris.cli.components as cli_components

    broken = tmp_path / "spec.yaml"
    broken.write_text("name: duckdb.writer\nversion: [\n", encoding="utf-8")
    registry = Registry()
    registry.defer("duckdb_writer", "osiris/components/duckdb_writer/spec.yaml", broken, check=False)
    monkeypatch.setattr(cli_components, "default_registry", lambda: registry)
    assert main(["components", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("osirisc components: osiris/components/duckdb_writer/spec.yaml: not valid YAML"), err
