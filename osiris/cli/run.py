"""``osirisc run FILE`` compiles a pipeline and runs it; ``osirisc run --plan DIR/plan.json`` runs a build.

Relative paths in the pipeline resolve against the pipeline's folder (``--base-dir`` for ``--plan``, default
the working directory). Exit codes: 0 ok, 1 a step failed, 2 invalid pipeline, plan, connections or usage.

``--target ray [--address ADDR]`` runs the plan on a Ray cluster (osiris/backends/ray, docs/distributed.md).
``--target sandbox|e2b`` (default ``local``) emits the pipeline's bundle and runs it in the local stand-in or an
E2B sandbox; ``--bundle B`` runs an emitted bundle as it is (osiris/backends/e2b/launch.py). A bundle the entry
point refuses exits with its own code: 10 changed files, 11 drivers, 12 install, 13 imports. ``--bundle`` needs
``--expect FINGERPRINT`` (printed by ``osirisc emit``): the host runs only the bytes that were emitted
(osiris/backends/e2b/trust.py); a bundle with other bytes exits 10 before anything is unpacked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import attrs

from osiris.backends.local.plan import build_plan
from osiris.cli import common
from osiris.compile import compile_file
from osiris.render import render_json
from osiris.runtime.cli import add_run_options, execute, open_std_fds
from osiris.runtime.errors import RunError
from osiris.runtime.plan import load_plan, validate_plan


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="compile and run a pipeline, or run a built plan.json")
    p.add_argument("file", nargs="?", metavar="FILE", help="the pipeline to compile and run")
    p.add_argument("--plan", metavar="PLAN", help="run this plan.json (from `osirisc build`) instead of FILE")
    p.add_argument("--base-dir", metavar="DIR", help="where relative paths resolve (default: FILE's folder / cwd)")
    p.add_argument(
        "--target", choices=("local", "sandbox", "e2b", "ray"), default="local", help="where to run (default: local)"
    )
    p.add_argument(
        "--address", metavar="ADDR", help="ray: the cluster to join (default: start a local Ray for the run)"
    )
    p.add_argument("--bundle", metavar="BUNDLE", help="run this bundle (from `osirisc emit`) with --target sandbox|e2b")
    p.add_argument(
        "--expect",
        metavar="FINGERPRINT",
        help="with --bundle: the fingerprint `osirisc emit` printed (sha256:...); any other bundle is refused",
    )
    p.add_argument("--timeout", type=int, metavar="S", help="sandbox targets: seconds the run may take")
    p.add_argument("--reuse-venv", action="store_true", help="sandbox: reuse a cached venv for the same requirements")
    p.add_argument("--template", help="e2b: the sandbox template (default: E2B's base template)")
    common.add_syntax(p)
    common.add_compile_options(p)
    add_run_options(p)


def run(args: argparse.Namespace) -> int:
    open_std_fds()  # before anything is opened: a closed fd 1 or 2 must not become a run file's descriptor
    if args.expect is not None and args.bundle is None:
        print("osirisc run: --expect goes with --bundle", file=sys.stderr)
        return 2
    if args.address is not None and args.target != "ray":
        print("osirisc run: --address goes with --target ray", file=sys.stderr)
        return 2
    if args.target == "ray" and args.bundle is not None:
        print("osirisc run: --bundle is for --target sandbox|e2b; for Ray give FILE or --plan", file=sys.stderr)
        return 2
    if args.target not in ("local", "ray") or args.bundle is not None:
        from osiris.cli.run_sandbox import run_sandboxed

        return run_sandboxed(args)
    if (args.file is None) == (args.plan is None):
        print("osirisc run: give a pipeline FILE or --plan PLAN (one of them)", file=sys.stderr)
        return 2
    if args.plan is not None:
        try:
            plan = load_plan(args.plan)
        except RunError as exc:
            print(exc.render(args.plan), file=sys.stderr)
            return 2
        requirements = Path(args.plan).parent / "requirements.txt"
        packages = _pinned(requirements.read_text(encoding="utf-8")) if requirements.is_file() else []
        return _execute(plan, args, Path(args.base_dir or "."), packages)
    params = common.parse_params(args.param)
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile)
    sources = dict(result.sources)
    if result.pipeline is not None and result.ctx is not None and not result.failed:
        from osiris.cli.connections_check import connection_diagnostics

        base = Path(args.base_dir) if args.base_dir else Path(args.file).parent
        found = connection_diagnostics(result.pipeline, result.ctx.registry, base, sources, args.connections)
        result = attrs.evolve(result, diagnostics=(*result.diagnostics, *found))
    if args.target == "ray":  # OSR-W165 says `partition` matters only on Ray: this run is on Ray
        result = attrs.evolve(result, diagnostics=tuple(d for d in result.diagnostics if d.code != "OSR-W165"))
    failed = common.report(result.diagnostics, sources, "text")
    if failed or result.pipeline is None or result.ctx is None:
        if args.format == "json":
            print(render_json(result.diagnostics))
        return 2
    plan = json.loads(json.dumps(build_plan(result.pipeline, result.ctx)))  # exactly what plan.json would hold
    try:
        validate_plan(plan)
    except RunError as exc:  # the compiler produced a plan the runtime cannot run: a bug, but never a traceback
        print(f"osirisc run: internal error: {exc.render()}", file=sys.stderr)
        return 3
    packages = list(
        result.ctx.products.collect_requirements.packages if result.ctx.products.collect_requirements else ()
    )
    return _execute(plan, args, Path(args.base_dir) if args.base_dir else Path(args.file).parent, packages)


def _pinned(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _execute(plan: dict, args: argparse.Namespace, base_dir: Path, packages: list[str]) -> int:
    if args.target == "ray":  # osiris/backends/ray: each step in Ray actors, the same run record
        from osiris.backends.ray.launch import run_on_ray

        return run_on_ray(plan, args, base_dir, packages)
    return execute(plan, args, base_dir, "osirisc run")
