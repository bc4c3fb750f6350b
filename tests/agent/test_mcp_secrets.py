"""No secret crosses the MCP protocol: every tool's every response, with secrets in the environment, in the
connections file (through ${VAR}) and inline in a pipeline, on a real run into PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]

CONNECTIONS = """\
connections:
  postgres:
    warehouse:
      default: true
      host: 127.0.0.1
      port: 5432
      database: test
      user: postgres
      password: ${WAREHOUSE_PASSWORD}
"""

PIPELINE = """\
oml_version: "0.1.0"
name: secret-demo
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/in.csv
  - id: write
    component: postgres.writer
    mode: write
    needs: [read]
    config:
      connection: "@postgres.warehouse"
      schema: SCHEMA
      table: totals
      write_mode: replace
      primary_key: id
      create_if_missing: true
"""


@pytest.mark.db
def test_no_secret_in_any_tool_response(tmp_path: Path, pg_schema: str) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    inline = f"inline-{uuid.uuid4().hex}"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.csv").write_text("id,v\n1,a\n2,b\n")
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    (tmp_path / "p.yaml").write_text(PIPELINE.replace("SCHEMA", pg_schema))
    bad = PIPELINE.replace("SCHEMA", pg_schema).replace(
        '      connection: "@postgres.warehouse"\n',
        f"      host: 127.0.0.1\n      user: postgres\n      database: test\n      password: {inline}\n",
    )
    env = {**os.environ, "WAREHOUSE_PASSWORD": secret, "OSIRIS_CACHE_DIR": ""}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "osiris.cli", "mcp", "--root", str(tmp_path), "--allow-run"], env=env
    )

    async def session() -> list[Any]:
        out: list[Any] = []
        async with Client(params) as client:
            out.append(await client.list_tools())
            out.append(await client.call_tool("pipeline_save", {"path": "bad.yaml", "text": bad}))
            out.append(await client.call_tool("check", {"path": "bad.yaml"}))
            for tool in ("check", "plan", "graph", "build", "fmt"):
                out.append(await client.call_tool(tool, {"path": "p.yaml"}))
            out.append(await client.call_tool("run", {"path": "p.yaml"}))
            out.append(await client.call_tool("runs_list", {}))
            out.append(await client.call_tool("runs_show", {"run": "last"}))
        return out

    responses = asyncio.run(session())
    text = json.dumps([r.model_dump(mode="json") for r in responses])
    bad_check = responses[2].structured_content
    assert bad_check["ok"] is False and bad_check["errors"] >= 1  # the inline secret is an error ...
    run = responses[8]
    assert not run.is_error, run.content
    assert run.structured_content["exit_code"] == 0, run.structured_content
    assert responses[10].structured_content["status"] == "ok"
    assert secret not in text and inline not in text  # ... and neither secret is ever shown
