"""Hostile calls to `osirisc mcp` over the real protocol (the SDK's client, the server on stdio): every refusal
reaches the agent as an error result that says why, never as a bare "Error executing tool"."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters


def _calls(root: Path, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "osiris.cli", "mcp", "--root", str(root)])

    async def session() -> list[Any]:
        async with Client(params) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(session())


def _error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_paths_the_os_refuses_are_reported_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "taken.yaml").write_text("a file, not a folder\n")
    long_name = "a" * 300 + ".yaml"
    results = _calls(
        tmp_path,
        [
            ("check", {"path": long_name}),
            ("pipeline_save", {"path": long_name, "text": "name: x\n"}),
            ("pipeline_save", {"path": "taken.yaml/inner.yaml", "text": "name: x\n"}),
        ],
    )
    too_long, save_too_long, under_a_file = (_error_text(r) for r in results)
    assert "not a usable path: File name too long" in too_long, too_long
    assert "not a usable path: File name too long" in save_too_long, save_too_long
    assert "cannot save 'taken.yaml/inner.yaml'" in under_a_file, under_a_file
    assert long_name not in too_long + save_too_long  # the reason, not a 300-character echo
    assert (tmp_path / "taken.yaml").read_text() == "a file, not a folder\n"


def test_a_huge_recorded_error_is_cut_in_run_responses(tmp_path: Path) -> None:
    error = "duplicate key value violates unique constraint; row: " + "x" * 2_000_000
    run = tmp_path / "runs" / "p" / "r1"
    run.mkdir(parents=True)
    events = [
        {"event": "run_start", "ts": 1700000000},
        {"event": "step_error", "ts": 1, "step": "load", "error": error},
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    status = {
        "ok": False,
        "failed_steps": ["load"],
        "error": error,
        "steps": {"load": {"status": "failed", "error": error}},
    }
    (run / "status.json").write_text(json.dumps(status))
    listed, shown = _calls(tmp_path, [("runs_list", {}), ("runs_show", {"run": "r1"})])
    assert not listed.is_error and not shown.is_error
    (summary,) = listed.structured_content["result"]
    assert len(json.dumps(listed.structured_content)) < 20_000 and len(json.dumps(shown.structured_content)) < 20_000
    cut = f"[{len(error) - 4000:,} more characters in the run's record]"
    for text in (summary["error"], shown.structured_content["error"], shown.structured_content["steps"][0]["error"]):
        assert text.startswith(error[:4000]) and text.endswith(cut)
