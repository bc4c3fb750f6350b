"""``osirisc check FILE...``: run the frontend and the semantic passes; print every problem found."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from osiris.cli import common
from osiris.compile import compile_file
from osiris.ir import Diagnostic


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check pipeline files and report every problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    common.add_syntax(p)
    common.add_format(p)
    common.add_compile_options(p)
    p.add_argument("--print-ir", action="store_true", help="print the IR (JSON) of each valid file")
    common.add_print_ir_after(p)


def run(args: argparse.Namespace) -> int:
    params = common.parse_params(args.param)
    after, problem = common.print_ir_after(args.print_ir_after)
    if problem:
        print(f"osirisc check: {problem}", file=sys.stderr)
        return 2
    all_diags: list[Diagnostic] = []
    sources: dict[str, str] = {}
    failed = False
    for path in args.files:
        result = compile_file(path, syntax=args.syntax, params=params, profile=args.profile, after=after)
        all_diags += result.diagnostics
        sources.update(result.sources)
        if result.pipeline is not None and result.ctx is not None and not result.failed:
            from osiris.cli.connections_check import connection_diagnostics

            found = connection_diagnostics(result.pipeline, result.ctx.registry, Path(path).parent, sources)
            all_diags += found
            failed |= any(d.is_error for d in found)
        failed |= result.failed
        if args.print_ir and result.pipeline is not None and not result.failed:
            from osiris.ir.serde import to_json  # cattrs: only for --print-ir

            print(to_json(result.pipeline))
    failed |= common.report(all_diags, sources, args.format)
    if args.format == "text" and not args.print_ir and not args.print_ir_after:
        status = "error" if failed else "ok"
        errors = sum(d.is_error for d in all_diags)
        warnings = len(all_diags) - errors
        print(f"{status}: {len(args.files)} file(s), {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return common.failure_code(all_diags) if failed else 0
