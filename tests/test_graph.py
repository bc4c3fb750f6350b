from __future__ import annotations

from pathlib import Path

import pytest

from osiris.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fan_in_join.yaml"


def test_graph_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "fan-in-join: 5 step(s) in order"
    assert lines[1].split() == ["sales", "read", "filesystem.csv_extractor", "(root)"]
    assert lines[3].split() == ["joined", "transform", "duckdb.processor", "<-", "sales,", "regions"]


def test_graph_mermaid_and_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLE), "--format", "mermaid"]) == 0
    mermaid = capsys.readouterr().out.splitlines()
    assert mermaid[0] == "flowchart TD"
    assert '    s2["joined<br/>duckdb.processor (transform)"]' in mermaid
    assert {"    s0 --> s2", "    s1 --> s2", "    s2 --> s3", "    s2 --> s4"} <= set(mermaid)
    assert main(["graph", str(EXAMPLE), "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "fan-in-join" {') and dot.endswith("}\n")
    assert '  "sales" -> "joined";' in dot and '  "regions" -> "joined";' in dot


def test_graph_of_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'oml_version: "0.1.0"\nname: x\nsteps:\n  - id: w\n    component: filesystem.csv_writer\n'
        "    mode: write\n    config: {path: o.csv}\n"
    )
    assert main(["graph", str(bad)]) == 2
    assert "OSR-E133" in capsys.readouterr().err
