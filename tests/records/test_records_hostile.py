"""Run folders a killed, hand-edited or hostile run left behind: `runs list`, `runs show` and `report` read them
without crashing and show them safely."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from osiris.cli import main


def _run(runs: Path, run_id: str, events: list[str], status: str | None = None) -> Path:
    folder = runs / "p" / run_id
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("".join(line + "\n" for line in events), encoding="utf-8")
    if status is not None:
        (folder / "status.json").write_text(status, encoding="utf-8")
    return folder


@pytest.mark.parametrize("ts", ["1e20", "-1e20", "NaN", "Infinity"])
def test_a_timestamp_no_date_can_hold_is_unknown(tmp_path: Path, ts: str, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    _run(runs, "good", ['{"event": "run_start", "ts": 1700000000}'], '{"ok": true, "duration_ms": 5}')
    _run(runs, "odd", [f'{{"event": "run_start", "ts": {ts}}}', f'{{"event": "step_complete", "ts": {ts}}}'])
    where = ["--runs-dir", str(runs)]
    assert main(["runs", "list", *where]) == 0
    listing = capsys.readouterr().out
    assert "good" in listing and "odd" in listing  # one odd folder does not hide the others
    assert main(["runs", "list", *where, "--format", "json"]) == 0
    odd = next(r for r in json.loads(capsys.readouterr().out) if r["run_id"] == "odd")
    assert odd["started"] is None and odd["duration_s"] is None
    assert main(["runs", "show", "odd", *where]) == 0
    assert "started ? UTC" in capsys.readouterr().out
    assert main(["report", "odd", *where, "-o", str(tmp_path / "odd.html")]) == 0
    assert "started unknown" in (tmp_path / "odd.html").read_text()


@pytest.mark.parametrize("error", ["", "\n"])
def test_a_failed_step_with_an_empty_error_is_listed(
    tmp_path: Path, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    status = json.dumps({"ok": False, "failed_steps": ["load"], "error": error})
    _run(runs, "r1", ['{"event": "run_start", "ts": 1700000000}'], status)
    assert main(["runs", "list", "--runs-dir", str(runs)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("r1") and "failed" in line and line.endswith("load: "), line


HOSTILE = "s\x1b[31mred\x1b]0;title\x07\x9b2J\u202eevil<script>alert(1)</script>"
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # all but the newline


def _hostile_run(runs: Path) -> None:
    events = [
        {"event": "run_start", "ts": 1700000000, "pipeline": HOSTILE},
        {"event": "step_error", "ts": 1700000001, "step": HOSTILE, "error": f"first {HOSTILE}\nsecond {HOSTILE}"},
    ]
    status = {"ok": False, "pipeline": HOSTILE, "failed_steps": [HOSTILE], "error": f"run {HOSTILE}"}
    _run(runs, "r1", [json.dumps(e) for e in events], json.dumps(status))


def test_terminal_output_shows_control_sequences_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    _hostile_run(runs)
    for command in (["runs", "list"], ["runs", "show", "r1"]):
        assert main([*command, "--runs-dir", str(runs)]) == 0
        out = capsys.readouterr().out
        assert not UNSAFE.search(out), (command, out)
        assert "s\\x1b[31mred\\x1b]0;title\\x07\\x9b2J\\u202eevil" in out  # shown, as escapes
    assert "      error: first " in out and "\n             second " in out  # lines kept, aligned


def test_html_report_escapes_every_recorded_text(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _hostile_run(runs)
    page = tmp_path / "r1.html"
    assert main(["report", "r1", "--runs-dir", str(runs), "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_an_ambiguous_run_id_says_so_instead_of_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs matching a prefix (or one id under two pipelines) was reported as "no run"."""
    runs = tmp_path / "runs"
    start = ['{"event": "run_start", "ts": 1700000000}']
    for run_id in ("20261130T100000Z-aaaaaa", "20261130T110000Z-bbbbbb"):
        _run(runs, run_id, start, '{"ok": true}')
    where = ["--runs-dir", str(runs)]
    assert main(["runs", "show", "20261130T", *where]) == 2
    err = capsys.readouterr().err
    assert "2 runs match '20261130T' (p/20261130T110000Z-bbbbbb, p/20261130T100000Z-aaaaaa; give more" in err, err
    assert main(["report", "20261130T", *where]) == 2
    assert "2 runs match '20261130T'" in capsys.readouterr().err
    assert main(["runs", "show", "20261130T11", *where]) == 0  # a unique prefix still finds it
    capsys.readouterr()
    assert main(["runs", "show", "nothing", *where]) == 2
    assert "no run 'nothing'" in capsys.readouterr().err
