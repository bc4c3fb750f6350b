"""``osirisc state show|reset PIPELINE [STEP]``: the incremental state of a pipeline's extractors.

The state of an incremental extractor lives with the data, in the target of the writer it feeds
(docs/incremental.md): ``show`` prints each extractor's cursor column, mark, version, rows read by the last run and
when it committed; ``reset`` deletes the state (one step, or every incremental step of the pipeline), so the next
run starts from ``initial_value`` (or reads everything). Exit codes: 0 ok, 1 a target could not be read or
changed, 2 an invalid pipeline, a step that is not incremental, or a connections problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from osiris.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("state", help="show or reset the incremental state of a pipeline's extractors")
    p.add_argument("action", choices=("show", "reset"), help="show the state, or delete it (next run reloads)")
    p.add_argument("file", metavar="PIPELINE", help="the pipeline file")
    p.add_argument("step", nargs="?", metavar="STEP", help="one incremental extractor (default: all of them)")
    p.add_argument("--connections", metavar="FILE", help="osiris_connections.yaml to use")
    p.add_argument("--base-dir", metavar="DIR", help="where relative paths resolve (default: the pipeline's folder)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output (default: text)")
    common.add_syntax(p)
    common.add_compile_options(p)


def run(args: argparse.Namespace) -> int:
    from osiris.backends.local.plan import build_plan
    from osiris.compile import compile_file
    from osiris.runtime import incremental
    from osiris.runtime.driver import StepError
    from osiris.runtime.engine import RunOptions, resolve_steps
    from osiris.runtime.errors import RunError
    from osiris.runtime.redact import Redactor

    result = compile_file(args.file, syntax=args.syntax, params=common.parse_params(args.param), profile=args.profile)
    if common.report(result.diagnostics, dict(result.sources), "text") or result.pipeline is None or result.ctx is None:
        return 2
    plan = json.loads(json.dumps(build_plan(result.pipeline, result.ctx)))
    steps = list(plan["steps"])
    sources = [s["id"] for s in steps if s.get("mode") == "read" and isinstance(s["config"].get("incremental"), dict)]
    if args.step is not None and args.step not in sources:
        print(
            f"osirisc state: step '{args.step}' is not an incremental extractor of {args.file}"
            + (f" (those are: {', '.join(sources)})" if sources else " (it has none)"),
            file=sys.stderr,
        )
        return 2
    chosen = [args.step] if args.step else sources
    base = Path(args.base_dir) if args.base_dir else Path(args.file).parent
    redactor = Redactor()
    try:
        resolved = resolve_steps(plan, RunOptions(base_dir=base, connections=args.connections), redactor)
        cursors = incremental.cursors_for(plan["pipeline"]["name"], steps, resolved, base.resolve())
    except RunError as exc:
        print(exc.render(args.file), file=sys.stderr)
        return 2
    except StepError as exc:
        print(f"osirisc state: {redactor.text(str(exc))}", file=sys.stderr)
        return 2
    out: list[dict[str, Any]] = []
    failed = False
    for sid in chosen:
        cursor = next(c for c in cursors[sid] if c.step == sid)
        row: dict[str, Any] = {"step": sid, "where": cursor.store.where()}
        try:
            if args.action == "show":
                row["state"] = cursor.store.entry(cursor.pipeline, sid)
            else:
                row["deleted"] = cursor.store.reset(cursor.pipeline, sid)
        except Exception as exc:
            row["error"] = redactor.text(f"{type(exc).__name__}: {exc}")
            failed = True
        out.append(row)
    if args.format == "json":
        print(json.dumps(redactor.data(out), sort_keys=True, indent=1, default=str))
    else:
        for row in out:
            print(redactor.text(_line(args.action, row)))
    return 1 if failed else 0


def _line(action: str, row: dict[str, Any]) -> str:
    head = f"{row['step']} ({row['where']})"
    if "error" in row:
        return f"{head}: cannot {action} the state: {row['error']}"
    if action == "reset":
        return f"{head}: state deleted; the next run reads from the start" if row["deleted"] else f"{head}: no state"
    state = row["state"]
    if state is None:
        return f"{head}: no state yet (the next run reads from initial_value, or everything)"
    mark = state.get("mark") or {}
    value = f"{mark.get('value')} ({mark.get('type')})" if mark else "none (no rows read yet)"
    return (
        f"{head}: {state.get('cursor_column')} > {value}; version {state.get('version')}, "
        f"{state.get('rows_read')} rows read by the last run, committed {state.get('updated_at')}"
    )
