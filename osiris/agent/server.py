"""``build_server(tools)``: the ``tools.Tools`` functions as MCP tools of the official SDK's ``MCPServer``.

A tool's anticipated failure (a path outside the workspace, an unknown component, running while running is
off) reaches the agent as an ``is_error`` result with the reason; anything else is reported by the SDK as a
crash without its text (which could hold data the agent should not see).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError as McpToolError

from osiris import __version__
from osiris.agent.tools import ToolError, Tools

F = TypeVar("F", bound=Callable[..., Any])

INSTRUCTIONS = """\
osirisc checks, plans and builds data pipelines (Osiris OML YAML or the .osiris text syntax) before anything runs.
A typical session: components_list / components_show to learn the components and their config schemas,
oml_schema for the document's shape, pipeline_save (or check with text) to write a pipeline and read every
problem with its line, column and a fix hint, explain for a diagnostic code, then plan to see the DDL each
writer will run. Paths are relative to the workspace root; nothing outside it can be read or written.
Secrets never cross this protocol: connections hold ${VAR} references, resolved only when a pipeline runs."""


def _anticipated(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ToolError as exc:
            raise McpToolError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def build_server(tools: Tools) -> MCPServer:  # noqa: C901 — one nested function per MCP tool, no branching
    server: MCPServer = MCPServer("osirisc", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    @_anticipated
    def components_list() -> list[dict[str, Any]]:
        """The built-in components: name, modes (read/transform/write) and description."""
        return tools.components_list()

    @server.tool()
    @_anticipated
    def components_show(name: str) -> dict[str, Any]:
        """One component: its config fields (type, default, required, secret), connection fields, an example and
        the JSON Schema of its config."""
        return tools.components_show(name)

    @server.tool()
    @_anticipated
    def oml_schema() -> dict[str, Any]:
        """The JSON Schema of an OML pipeline document (with each component's config schema)."""
        return tools.oml_schema()

    @server.tool()
    @_anticipated
    def check(path: str, text: str | None = None) -> dict[str, Any]:
        """Check the pipeline at `path` (relative to the workspace), or `text` as if it were that file's content
        (not saved). Returns ok, counts and every diagnostic with code, message, file, line, col and notes (fix
        hints): the same as `osirisc check --format json`."""
        return tools.check(path, text)

    @server.tool()
    @_anticipated
    def pipeline_save(path: str, text: str, overwrite: bool = True) -> dict[str, Any]:
        """Save a pipeline file (.yaml/.yml/.osiris) inside the workspace, atomically, and return its check."""
        return tools.save(path, text, overwrite)

    @server.tool()
    @_anticipated
    def fmt(path: str, to: str | None = None) -> dict[str, Any]:
        """The canonical formatting of a pipeline; `to` = "text" or "oml" converts between the two syntaxes."""
        return tools.fmt(path, to)

    @server.tool()
    @_anticipated
    def graph(path: str, format: str = "text") -> dict[str, Any]:
        """The dependency graph (effective needs, execution order) as text, mermaid or dot."""
        return tools.graph(path, format)

    @server.tool()
    @_anticipated
    def plan(path: str) -> dict[str, Any]:
        """Per writer: target, columns, primary key and the exact DDL and load statements a run will execute."""
        return tools.plan(path)

    @server.tool()
    @_anticipated
    def build(path: str) -> dict[str, Any]:
        """Compile and write the build directory (plan.json, steps, requirements, fingerprints, ddl.sql)."""
        return tools.build(path)

    @server.tool()
    @_anticipated
    def explain(code: str) -> dict[str, Any]:
        """What a diagnostic code (e.g. OSR-E150) means and how to fix it."""
        return tools.explain(code)

    @server.tool()
    @_anticipated
    def introspect(path: str) -> dict[str, Any]:
        """Read the database sources' schemas (read-only) and write the pipeline's schema lock."""
        return tools.introspect(path)

    @server.tool()
    @_anticipated
    def runs_list(pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Past runs in the workspace, newest first: status, duration, rows, failed step and its error."""
        return tools.runs_list(pipeline, limit)

    @server.tool()
    @_anticipated
    def runs_show(run: str = "last") -> dict[str, Any]:
        """One run (an id, a unique prefix, or 'last'): per-step status, rows, bytes, durations, errors, DDL."""
        return tools.runs_show(run)

    if tools.allow_run:

        @server.tool()
        @_anticipated
        def run(path: str) -> dict[str, Any]:
            """Run the pipeline (offered because the server was started with --allow-run)."""
            return tools.run(path)

    return server
