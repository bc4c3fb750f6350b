"""The MCP tools answer a broken built-in spec with a tool error naming its file, as `osirisc components` does
(built-in specs are parsed when first used, so the error comes while listing or showing)."""

from __future__ import annotations

from pathlib import Path

import pytest

import osiris.cli.components  # noqa: F401  # imported now: it binds the real default_registry, not the patch below
import osiris.components.registry as registry_module
from osiris.agent.tools import ToolError, Tools
from osiris.agent.workspace import Workspace
from osiris.components.registry import Registry


@pytest.mark.parametrize("call", ["list", "show", "show-unknown"])
def test_a_broken_builtin_spec_is_a_tool_error(call: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "spec.yaml"
    broken.write_text("name: duckdb.writer\nversion: [\n", encoding="utf-8")
    registry = Registry()
    registry.defer("duckdb_writer", "osiris/components/duckdb_writer/spec.yaml", broken, check=False)
    monkeypatch.setattr(registry_module, "default_registry", lambda: registry)
    tools = Tools(Workspace(tmp_path))
    with pytest.raises(ToolError, match=r"^osiris/components/duckdb_writer/spec.yaml: not valid YAML"):
        if call == "list":
            tools.components_list()
        else:
            tools.components_show("duckdb.writer" if call == "show" else "duckdb.writr")
