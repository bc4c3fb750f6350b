"""``osirisc mcp [--root DIR] [--allow-run] [--transport stdio|streamable-http] [--port N]``: an MCP server.

The compiler as an agent's tool (osiris/agent/): components and their schemas, OML's JSON Schema, check (with
the same diagnostics as ``check --format json``), fmt, graph, plan, build, explain, introspect and past runs.
``run`` is offered only with ``--allow-run``. Every path stays inside ``--root`` (default: the working
directory). stdio is the default transport; streamable HTTP listens on 127.0.0.1 only. docs/mcp.md shows how to
register it with a client.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mcp", help="serve the compiler to AI agents over the Model Context Protocol")
    p.add_argument("--root", default=".", metavar="DIR", help="the workspace root (default: the working directory)")
    p.add_argument("--allow-run", action="store_true", help="also offer the `run` tool (runs pipelines)")
    p.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    p.add_argument("--port", type=int, default=8765, help="streamable-http: the port on 127.0.0.1")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.is_dir():
        print(f"osirisc mcp: --root '{root}' is not a folder", file=sys.stderr)
        return 2
    try:
        from osiris.agent.server import build_server
    except ImportError as exc:
        print(f"osirisc mcp: the MCP SDK is not installed ({exc}); pip install 'mcp>=2.3'", file=sys.stderr)
        return 2
    from osiris.agent.tools import Tools
    from osiris.agent.workspace import Workspace

    server = build_server(Tools(Workspace(root), allow_run=args.allow_run))
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    return 0
