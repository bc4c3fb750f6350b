"""``osirisc build FILE``: compile a pipeline and write its build directory with a backend (default: local).

The out directory defaults to ``build/<pipeline name>/`` under the working directory. Text output is a short
summary (steps in order, files written); ``--format json`` prints the same as one JSON object. Diagnostics go to
stderr (text) as for ``check``; nothing is written when there is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from osiris.backends import BackendError, get_backend
from osiris.backends.local import file_stem
from osiris.backends.local.plan import build_plan
from osiris.canonical import sha256
from osiris.cli import common
from osiris.compile import compile_file, gc_paused
from osiris.render import render_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="compile a pipeline and write its build directory")
    p.add_argument("file", metavar="FILE")
    common.add_syntax(p)
    common.add_compile_options(p)
    p.add_argument("-o", "--out", metavar="DIR", help="output directory (default: build/<pipeline-name>/)")
    p.add_argument("--backend", default="local", help="backend that writes the output (default: %(default)s)")
    common.add_format(p)
    common.add_print_ir_after(p)


def run(args: argparse.Namespace) -> int:
    params = common.parse_params(args.param)
    after, problem = common.print_ir_after(args.print_ir_after)
    if problem:
        print(f"osirisc build: {problem}", file=sys.stderr)
        return 2
    try:
        backend = get_backend(args.backend)
    except BackendError as exc:
        print(f"osirisc build: {exc}", file=sys.stderr)
        return 2
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile, after=after)
    failed = common.report(result.diagnostics, result.sources, "text")
    if failed or result.pipeline is None or result.ctx is None:
        if args.format == "json":
            print(render_json(result.diagnostics))
        return common.failure_code(result.diagnostics)
    pipeline = result.pipeline
    out = args.out if args.out is not None else str(Path("build") / file_stem(pipeline.name))
    try:
        with gc_paused():
            written = backend.emit(result, Path(out))
    except OSError as exc:  # disk full, quota, ulimit -f: every file is left as it was (canonical.write_many)
        print(f"osirisc build: cannot write '{out}': {exc} (left as it was)", file=sys.stderr)
        return 2
    if "fingerprints.json" in written:  # the hash of the plan the backend wrote (not built a second time)
        plan_sha = json.loads((Path(out) / "fingerprints.json").read_text(encoding="utf-8"))["plan"]
    else:
        plan_sha = sha256(build_plan(pipeline, result.ctx))
    steps = []
    by_id = {s.id: s for s in pipeline.steps}
    for sid in pipeline.order:
        step = by_id.get(sid)
        assert step is not None
        steps.append({"id": step.id, "component": step.component, "mode": step.mode, "needs": list(step.needs or ())})
    if args.format == "json":
        data = {
            "pipeline": pipeline.name,
            "backend": backend.name,
            "out_dir": out,
            "steps": steps,
            "files": written,
            "plan_sha256": plan_sha,
            "warnings": len(result.diagnostics),
        }
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        return 0
    lines = [f"built '{pipeline.name}' -> {out}", "steps:"]
    width = max(len(s["id"]) for s in steps)
    for i, s in enumerate(steps, 1):
        needs = f"  <- {', '.join(s['needs'])}" if s["needs"] else ""
        lines.append(f"  {i:>2}. {s['id']:<{width}}  {s['mode']:<9}  {s['component']}{needs}")
    lines.append("wrote:")
    lines += [f"  {out.rstrip('/')}/{rel}" for rel in written]
    lines.append(f"plan sha256: {plan_sha}")
    print(common.terminal_text("\n".join(lines)))
    return 0
