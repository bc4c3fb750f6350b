"""The runtime's command line: ``python -m osiris.runtime PLAN [--connections F] [--base-dir D] [--runs-dir D]
[--jobs N] [--format text|json]``. ``osirisc run`` shares ``add_run_options`` and ``execute``.

Exit codes: 0 ok, 1 a step failed, 2 invalid plan, connections or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from osiris.runtime.console import Reporter
from osiris.runtime.engine import RunOptions, run_plan
from osiris.runtime.errors import RunError
from osiris.runtime.plan import load_plan


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", metavar="FILE", help="osiris_connections.yaml to use")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="where run records go (default: runs)")
    parser.add_argument("--jobs", type=int, default=4, metavar="N", help="steps run at once (default: 4)")
    parser.add_argument(
        "--memory-budget",
        type=int,
        default=256,
        metavar="MIB",
        help="MiB of batches buffered between steps before spilling to disk (default: 256)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output (default: text)")


def execute(plan: Mapping[str, Any], args: argparse.Namespace, base_dir: Path, prog: str) -> int:
    """Run a loaded plan with the parsed options; prints progress and the outcome, returns the exit code."""
    if args.jobs < 1:
        print(f"{prog}: --jobs must be at least 1", file=sys.stderr)
        return 2
    reporter = Reporter(args.format)
    options = RunOptions(
        base_dir=base_dir,
        runs_dir=Path(args.runs_dir),
        connections=args.connections,
        jobs=args.jobs,
        memory_budget=args.memory_budget * 1024 * 1024,
        listeners=[reporter],
        watch=reporter.watch,
    )
    try:
        result = run_plan(plan, options)
    except RunError as exc:
        print(f"{prog}: {exc.render()}", file=sys.stderr)
        return 2 if exc.invalid else 1
    reporter.final(result.status)
    if args.format == "text":
        print(f"run record: {result.run_dir}", file=sys.stderr)
    return 0 if result.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m osiris.runtime", description="Run a compiled plan.json.")
    parser.add_argument("plan", metavar="PLAN")
    parser.add_argument("--base-dir", metavar="DIR", help="where relative paths resolve (default: the cwd)")
    add_run_options(parser)
    args = parser.parse_args(argv)
    try:
        plan = load_plan(args.plan)
    except RunError as exc:
        print(f"{exc.render(args.plan)}", file=sys.stderr)
        return 2
    return execute(plan, args, Path(args.base_dir or "."), "osiris.runtime")
