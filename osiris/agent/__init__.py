"""The compiler as an agent's tool: ``osirisc mcp`` serves ``tools.Tools`` over the Model Context Protocol.

``workspace`` keeps every path inside one root; ``tools`` are plain functions (testable without MCP); ``server``
registers them with the official ``mcp`` SDK's ``MCPServer``.
"""
