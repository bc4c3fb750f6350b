"""``osirisc introspect FILE``: read each database source's columns and write ``<pipeline>.schema.lock.json``.

The only build-time command that connects to sources (builds stay offline): each extractor's query (or table) is
described without reading rows; the lock is deterministic JSON that ``infer_schemas`` reads on every build.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from osiris.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("introspect", help="read the sources' schemas and write <pipeline>.schema.lock.json")
    p.add_argument("file", metavar="FILE")
    common.add_syntax(p)
    common.add_compile_options(p)
    p.add_argument("--check", action="store_true", help="only compare with the existing lock (exit 1 on drift)")


def _describe(dialect_name: str, conn: Any, query: str) -> list[dict[str, Any]]:
    """The locked columns of ``query``. MySQL: from the result metadata, read-only, with the extractor's own type
    mapping (so the lock says what the extractor reads); the others: ``lock.describe_query``."""
    if dialect_name == "mysql":
        from osiris.runtime.connectors import mysql

        return mysql.lock_columns(conn, query)
    from osiris.dialects import lock

    return lock.describe_query(dialect_name, conn, query)


def run(args: argparse.Namespace) -> int:
    from osiris.cli import targets
    from osiris.cli.targets import ConnectError, connect
    from osiris.compile import compile_file
    from osiris.dialects import lock
    from osiris.ir import nodes
    from osiris.ir.diagnostics import error

    params = common.parse_params(args.param)
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile, until="redact-secrets")
    if result.failed or result.pipeline is None:
        common.report(result.diagnostics, result.sources)
        return 2
    base = Path(args.file).parent
    entries: dict[str, Any] = {}
    diags = []
    for step in result.pipeline.steps:
        spec = result.ctx.registry.get(step.component) if result.ctx else None
        if spec is None or spec.schema_kind != "connection":  # x-compiler.schema: described from its source
            continue
        name = str(spec.dialect)
        config = nodes.plain(step.config)
        assert isinstance(config, dict)
        query = lock.source_select(name, config)  # what the lock records, and what infer_schemas compares
        if query is None:
            continue
        try:
            conn = connect(step, name, base)
        except ConnectError as exc:
            diags.append(error("OSR-E208", str(exc), step.id_span or step.span))
            continue
        schema = targets.connection_schema(step, base)  # the connection's `schema`, as a run reads it
        described = query if schema is None else lock.source_select(name, {**config, "schema": schema})
        try:
            columns = _describe(name, conn, str(described))
        except Exception as exc:  # the database's own error, first line
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = targets.masker.text(message)
            diags.append(
                error(
                    "OSR-E208", f"step '{step.id}': the source rejected the query: {message}", step.id_span or step.span
                )
            )
            continue
        finally:
            conn.close()
        entries[step.id] = {"component": step.component, "source": query, "columns": columns}
        print(f"{step.id}: {len(columns)} column(s) from {step.component}", file=sys.stderr)
    if common.report(diags, result.sources):
        return 2
    path = lock.lock_path(args.file)
    text = lock.dumps(entries)
    if args.check:
        same = path.is_file() and path.read_text(encoding="utf-8") == text
        print(f"{path.name}: {'up to date' if same else 'schema drift: rerun osirisc introspect'}", file=sys.stderr)
        return 0 if same else 1
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.name} ({len(entries)} source(s))", file=sys.stderr)
    return 0
