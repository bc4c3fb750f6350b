"""``osirisc plan FILE [--against] [--format text|json]``: per writer, the DDL and load statements.

Offline by default (schemas from declarations, the schema lock, CSV sniffing and DuckDB); writes ``ddl.sql`` to
the build directory. ``--against`` connects to each target read-only and says what a run would change: create,
add columns, nothing, or incompatible (and why).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from osiris.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="show the DDL and load statements of every writer")
    p.add_argument("file", metavar="FILE")
    common.add_syntax(p)
    common.add_format(p)
    common.add_compile_options(p)
    p.add_argument("--against", action="store_true", help="compare with the existing targets (connects read-only)")
    p.add_argument("-o", "--out", metavar="DIR", help="where ddl.sql goes (default: build/<pipeline-name>/)")


def against(step: Any, write: dict[str, Any], base: Path) -> dict[str, Any]:
    """What a run would change on the existing target: {status, message, statements}."""
    from osiris.cli.targets import ConnectError, connect, masker
    from osiris.dialects import check_existing

    if write["dialect"] == "csv":
        exists = (base / write["target"]["table"]).is_file()
        return {"status": "replace file" if exists else "create", "message": write["target"]["table"], "statements": []}
    if write["columns"] is None:
        return {"status": "unknown", "message": "columns unknown until run time", "statements": []}
    try:
        conn = connect(step, write["dialect"], base)
    except ConnectError as exc:
        if exc.missing:
            return {"status": "create", "message": f"{write['target']['qualified']} will be created", "statements": []}
        return {"status": "error", "message": str(exc), "statements": []}
    try:
        check = check_existing(write["dialect"], conn, write)
    except Exception as exc:  # the database's error, first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"status": "error", "message": masker.text(f"step '{step.id}': {first}"), "statements": []}
    finally:
        if write["dialect"] != "duckdb":  # psycopg/pymysql opened a transaction; DuckDB did not (read-only file)
            conn.rollback()
        conn.close()
    status = {"same": "nothing"}.get(check.status, check.status)
    return {"status": status, "message": masker.text(check.message), "statements": list(check.statements)}


def run(args: argparse.Namespace) -> int:
    from osiris.backends.local import ddl_text, file_stem
    from osiris.canonical import write_atomic
    from osiris.compile import compile_file

    params = common.parse_params(args.param)
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile)
    failed = common.report(result.diagnostics, result.sources)  # text on stderr, whatever --format says
    if failed or result.pipeline is None or result.ctx is None:
        return 2
    pipeline, ctx = result.pipeline, result.ctx
    unknown = ctx.products.infer_schemas.unknown if ctx.products.infer_schemas else {}
    writers = [s for s in pipeline.steps if s.write is not None]
    base = Path(args.file).parent
    report: list[dict[str, Any]] = []
    writes: dict[str, dict[str, Any]] = {}
    for step in writers:
        assert step.write is not None
        write, schema_from = _effective_write(step, step.write, base)
        writes[step.id] = write
        entry: dict[str, Any] = {"step": step.id, "write": write}
        if schema_from is not None:
            entry["schema_from"] = schema_from
        if write["columns"] is None:  # the writer plans its DDL at run time
            why = unknown.get(step.inputs[0].step, "") if step.inputs else ""
            entry["deferred"] = f"input columns unknown at build time{': ' + why if why else ''}"
        if args.against:
            entry["against"] = against(step, write, base)
        entry.update(_incremental(pipeline, ctx, step.id, write, live=args.against, base=base))
        entry.update(_export(ctx, step.id))
        report.append(entry)
    ddl = ddl_text({"steps": [{"id": s.id, "write": writes[s.id]} for s in writers]})
    out = Path(args.out) if args.out else Path("build") / file_stem(pipeline.name)
    if ddl is not None:
        write_atomic(out / "ddl.sql", ddl)
    if args.format == "json":
        data = {"pipeline": pipeline.name, "ddl_file": str(out / "ddl.sql") if ddl else None, "writers": report}
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(common.terminal_text(_text(report, ddl is not None and str(out / "ddl.sql"))), end="")
    errors = any(e.get("against", {}).get("status") in ("incompatible", "missing", "error") for e in report)
    return 1 if errors else 0


def _effective_write(step: Any, write: dict[str, Any], base: Path) -> tuple[dict[str, Any], str | None]:
    """The write plan a run executes: retargeted to the schema the step's connection gives when the step sets
    none (the build plans the spec's default; the run re-plans the same way), with the connection it came from."""
    from osiris.cli.targets import connection_schema
    from osiris.dialects import PlanError, retarget

    schema = connection_schema(step, base)
    if schema is None or schema == write["target"].get("schema"):
        return write, None
    ref = step.config.get("connection")
    try:
        return retarget(write, schema), f"{ref}" if ref is not None else "connection"
    except PlanError:
        return write, None  # the run refuses it (OSR-E316), naming the connection


def _incremental(
    pipeline: Any, ctx: Any, writer: str, write: dict[str, Any], *, live: bool, base: Path
) -> dict[str, Any]:
    """The incremental sources this writer keeps the state of, with the predicate a run uses (``--against``: the
    exact one, from the state in the target now)."""
    from osiris.ir import nodes
    from osiris.runtime import incremental

    steps = ctx.products.check_incremental.steps if ctx.products.check_incremental else {}
    found = {sid: info for sid, info in steps.items() if info["writer"] == writer}
    if not found:
        return {}
    where = "a state file next to the output" if write["dialect"] == "csv" else f"table {incremental.TABLE}"
    out = []
    for sid, info in found.items():
        step = pipeline.step(sid)
        plain = nodes.plain(step.config)
        assert isinstance(plain, dict)
        config = plain["incremental"]
        inc = incremental.describe(pipeline.name, sid, config, info["source"] or "postgres", where)
        if live:
            inc.update(_live(pipeline, ctx, sid, info, base))
        out.append(inc)
    return {"incremental": out}


def _live(pipeline: Any, ctx: Any, sid: str, info: dict[str, Any], base: Path) -> dict[str, Any]:
    from osiris.backends.local.plan import build_plan
    from osiris.runtime import incremental
    from osiris.runtime.engine import RunOptions, resolve_steps
    from osiris.runtime.redact import Redactor

    redactor = Redactor()
    try:
        plan = json.loads(json.dumps(build_plan(pipeline, ctx)))
        resolved = resolve_steps(plan, RunOptions(base_dir=base), redactor)
        cursors = incremental.cursors_for(pipeline.name, list(plan["steps"]), resolved, base.resolve())
        cursor = next(c for c in cursors[sid] if c.step == sid)
        found = cursor.store.entry(pipeline.name, sid)
        if found is not None:
            cursor.mark, cursor.version = found.get("mark"), int(found["version"])
        if info["source"] == "hogql":
            start = "initial_since" if cursor.mark is None else cursor.mark["value"]
            return {"this_run": f"{cursor.column} >= {start} - lookback_window_minutes AND {cursor.column} < now"}
        return {"this_run": cursor.predicate(info["source"] or "postgres") or "(every row)"}
    except Exception as exc:
        return {"this_run_error": redactor.text(f"cannot read the state: {type(exc).__name__}: {exc}")}


def _export(ctx: Any, writer: str) -> dict[str, Any]:
    """How the writer's rows arrive (passes/plan_exports.py): fused with its extractor, or why not."""
    product = ctx.products.plan_exports
    if product is None:
        return {}
    for source, fused in product.steps.items():
        if fused["writer"] == writer:
            return {"export": {"from": source, "format": fused["format"], "options": dict(fused["options"])}}
    refused = product.refused.get(writer)
    return {"export": {"from": refused["source"], "refused": refused["reason"]}} if refused else {}


def _export_lines(export: dict[str, Any]) -> list[str]:
    if "refused" in export:
        return [f"   export: not fused with '{export['from']}' ({export['refused']}): Arrow batches"]
    return [
        f"   export: server-formatted by '{export['from']}' (the source writes the {export['format']} bytes; a "
        "column type without an exact form makes the run take Arrow batches)"
    ]


def _incremental_lines(inc: dict[str, Any]) -> list[str]:
    lines = [f"   incremental source '{inc['source']}': rows ordered by {inc['order_by']}"]
    if "this_run_error" in inc:
        lines.append(f"     this run: {inc['this_run_error']}")
    if "this_run" in inc:
        lines.append(f"     this run: WHERE {inc['this_run']}")
    elif "this_run_error" not in inc:
        lines.append(f"     first run: {'WHERE ' if inc['first_run'] != 'every row' else ''}{inc['first_run']}")
        lines.append(f"     later runs: WHERE {inc['next_runs']}")
    lines.append(f"     state: {inc['state']}")
    return lines


def _text(report: list[dict[str, Any]], ddl_file: str | bool) -> str:
    if not report:
        return "no writers\n"
    lines: list[str] = []
    for entry in report:
        w = entry["write"]
        lines.append(f"== {entry['step']}: {w['mode']} into {w['target']['qualified']} ({w['dialect']})")
        if "schema_from" in entry:
            lines.append(f"   schema {w['target']['schema']} from connection {entry['schema_from']}")
        if w["columns"] is not None:
            cols = ", ".join(f"{c['name']} {c['type']}{'' if c['nullable'] else ' not null'}" for c in w["columns"])
            lines.append(f"   columns: {cols}")
        if w["primary_key"]:
            lines.append(f"   primary key: {', '.join(w['primary_key'])}")
        if "deferred" in entry:
            lines.append(f"   decided at run time: DDL and load statements ({entry['deferred']})")
            if w.get("create_if_missing") and w["dialect"] != "csv":
                # the statement itself waits for the columns, but that the run may create the table is known now
                lines.append(
                    f"   CREATE TABLE IF NOT EXISTS {w['target']['qualified']} (the input's columns) "
                    "-- when it does not exist (create_if_missing: true)"
                )
        statements = w.get("statements") or {}
        for sql in statements.get("prepare", []):
            lines.append(f"   {sql};")
        if w["load_table"] is not None and w["columns"] is not None:
            lines.append(f"   -- bulk load into {w['load_table']['qualified']}")
        for sql in statements.get("finalize", []):
            lines.append(f"   {sql};")
        for inc in entry.get("incremental", []):
            lines += _incremental_lines(inc)
        if "export" in entry:
            lines += _export_lines(entry["export"])
        if "against" in entry:
            a = entry["against"]
            lines.append(f"   against target: {a['status']}: {a['message']}")
            lines += [f"     {sql};" for sql in a["statements"]]
    if ddl_file:
        lines.append(f"wrote {ddl_file}")
    return "\n".join(lines) + "\n"
