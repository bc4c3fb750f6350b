"""`osirisc mcp` over the real protocol: the SDK's own client starts the server as a subprocess on stdio.

The scripted session is what an agent does: discover components, write a pipeline with a mistake, read the
diagnostic, fix it, check it clean and plan it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

BROKEN = """\
oml_version: "0.1.0"
name: agent-demo
steps:
  - id: read-sales
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/sales.csv
  - id: totals
    component: duckdb.processor
    mode: transform
    needs: [read-sales]
    config:
      query: SELECT region, SUM(quantity) AS items FROM df_read_sales GROUP BY region
  - id: write-totals
    component: duckdb.writer
    mode: write
    needs: [totals]
    config:
      path: output/agent.duckdb
      table: totals
      write_mode: replace_all
      primary_key: region
"""


def _server(root: Path, *extra: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "osiris.cli", "mcp", "--root", str(root), *extra], env=env
    )


def _data(result: Any) -> Any:
    """A tool result's structured content (the SDK wraps non-object results as {"result": ...})."""
    assert not result.is_error, result.content
    data = result.structured_content
    if isinstance(data, dict) and set(data) == {"result"}:
        return data["result"]
    return data


async def _session(root: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with Client(_server(root)) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        seen["tools"] = tools
        components = _data(await client.call_tool("components_list", {}))
        seen["components"] = {c["name"] for c in components}
        writer = _data(await client.call_tool("components_show", {"name": "duckdb.writer"}))
        seen["write_modes"] = writer["config_schema"]["properties"]["write_mode"]["enum"]
        schema = _data(await client.call_tool("oml_schema", {}))
        seen["schema_required"] = schema["required"]
        first = _data(await client.call_tool("pipeline_save", {"path": "agent.yaml", "text": BROKEN}))
        seen["first"] = first
        code = first["diagnostics"][0]["code"]
        seen["explained"] = _data(await client.call_tool("explain", {"code": code}))
        fixed = BROKEN.replace("write_mode: replace_all", "write_mode: replace")
        seen["unsaved"] = _data(await client.call_tool("check", {"path": "agent.yaml", "text": fixed}))
        seen["still_broken"] = _data(await client.call_tool("check", {"path": "agent.yaml"}))
        seen["second"] = _data(await client.call_tool("pipeline_save", {"path": "agent.yaml", "text": fixed}))
        seen["plan"] = _data(await client.call_tool("plan", {"path": "agent.yaml"}))
        seen["run_refused"] = await client.call_tool("runs_list", {})
        seen["escape"] = await client.call_tool("check", {"path": "../outside.yaml"})
    return seen


def test_scripted_agent_session(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "quickstart" / "data", tmp_path / "data")
    seen = asyncio.run(_session(tmp_path))
    assert {
        "components_list",
        "components_show",
        "oml_schema",
        "check",
        "pipeline_save",
        "fmt",
        "graph",
        "plan",
    } <= seen["tools"]
    assert {"plan", "build", "explain", "introspect", "runs_list", "runs_show"} <= seen["tools"]
    assert "run" not in seen["tools"]  # only with --allow-run
    assert {"filesystem.csv_extractor", "duckdb.processor", "duckdb.writer", "mysql.extractor"} <= seen["components"]
    assert "replace" in seen["write_modes"]
    assert seen["schema_required"] == ["oml_version", "name", "steps"]
    first = seen["first"]
    assert first["saved"] == "agent.yaml" and first["ok"] is False and first["errors"] == 1
    (diag,) = first["diagnostics"]
    assert diag["file"] == "agent.yaml" and diag["line"] == 22 and diag["col"] == 19, diag
    assert "replace_all" in diag["message"] and "'replace'" in diag["message"]
    assert seen["explained"]["code"] == diag["code"] and seen["explained"]["explanation"]
    assert seen["unsaved"]["ok"] is True and seen["unsaved"]["diagnostics"] == []
    assert seen["still_broken"]["ok"] is False  # checking text does not save it
    assert seen["second"]["ok"] is True and seen["second"]["errors"] == 0
    (writer,) = seen["plan"]["result"]["writers"]
    assert writer["step"] == "write-totals" and writer["write"]["mode"] == "replace"
    assert writer["write"]["primary_key"] == ["region"]
    assert (tmp_path / "agent.yaml").read_text() == BROKEN.replace("replace_all", "replace")
    assert _data(seen["run_refused"]) == []
    assert seen["escape"].is_error and "outside the workspace root" in seen["escape"].content[0].text


def test_check_json_is_the_cli_json(tmp_path: Path) -> None:
    """The check tool's diagnostics are exactly `osirisc check --format json`'s."""
    import subprocess

    (tmp_path / "p.yaml").write_text(BROKEN)

    async def call() -> Any:
        async with Client(_server(tmp_path)) as client:
            return _data(await client.call_tool("check", {"path": "p.yaml"}))

    via_mcp = asyncio.run(call())
    cli = subprocess.run(
        [sys.executable, "-m", "osiris.cli", "check", "p.yaml", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 2
    assert via_mcp["diagnostics"] == json.loads(cli.stdout)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("check", {"path": "/etc/hostname.yaml"}),
        ("pipeline_save", {"path": "../escape.yaml", "text": "x"}),
        ("runs_show", {"run": "../../etc"}),
        ("plan", {"path": "link/p.yaml"}),
        ("check", {"path": "reads-outside.yaml"}),
    ],
)
def test_no_path_outside_the_root(tmp_path: Path, tool: str, args: dict[str, Any]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "p.yaml").write_text(BROKEN)
    (outside / "secret.csv").write_text("very_private_header\n1\n")
    (root / "link").symlink_to(outside)
    (root / "reads-outside.yaml").write_text(BROKEN.replace("data/sales.csv", "../outside/secret.csv"))

    async def call() -> Any:
        async with Client(_server(root)) as client:
            return await client.call_tool(tool, args)

    result = asyncio.run(call())
    text = json.dumps([c.model_dump() for c in result.content])
    assert result.is_error, text
    assert "very_private_header" not in text
    assert not (tmp_path / "escape.yaml").exists()
