"""``osirisc components list|show``."""

from __future__ import annotations

import json

import pytest

from osiris.cli import main


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
