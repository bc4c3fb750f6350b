"""The runtime's command line: ``python -m osiris.runtime PLAN [--connections F] [--base-dir D] [--runs-dir D]
[--jobs N] [--format text|json]``. ``osirisc run`` shares ``add_run_options`` and ``execute``.

Exit codes: 0 ok, 1 a step failed, 2 invalid plan, connections or usage, 4 the run record could not be written
completely (the message says which data was committed), 128 + N the run was cancelled by signal N (130 Ctrl-C,
143 SIGTERM, 129 SIGHUP, 141 its output was closed: SIGPIPE semantics).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from osiris.runtime.cancel import CancelToken, handle_signals
from osiris.runtime.console import Reporter
from osiris.runtime.engine import RunOptions, RunResult, run_plan
from osiris.runtime.errors import RunError
from osiris.runtime.plan import load_plan
from osiris.runtime.streams import DEFAULT_MEMORY_BUDGET

EXIT_RECORD = 4  # the run's data outcome stands, but its record could not be written completely


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", metavar="FILE", help="osiris_connections.yaml to use")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="where run records go (default: runs)")
    parser.add_argument("--jobs", type=int, default=4, metavar="N", help="steps run at once (default: 4)")
    parser.add_argument(
        "--memory-budget",
        type=int,
        default=DEFAULT_MEMORY_BUDGET // (1024 * 1024),
        metavar="MIB",
        help=f"MiB of batches buffered between steps before spilling to disk (default: {DEFAULT_MEMORY_BUDGET >> 20})",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output (default: text)")


def execute(plan: Mapping[str, Any], args: argparse.Namespace, base_dir: Path, prog: str, scheduler: Any = None) -> int:
    """Run a loaded plan with the parsed options; prints progress and the outcome, returns the exit code.
    ``scheduler`` replaces the local one (``RunOptions.scheduler``: the Ray backend's).

    SIGINT/SIGTERM/SIGHUP and a closed stdout/stderr cancel the run cleanly (exit 128 + signal)."""
    if args.jobs < 1:
        say(f"{prog}: --jobs must be at least 1")
        return 2
    open_std_fds()
    reporter = Reporter(args.format)
    cancel = CancelToken()
    options = RunOptions(
        base_dir=base_dir,
        runs_dir=Path(args.runs_dir),
        connections=args.connections,
        jobs=args.jobs,
        memory_budget=args.memory_budget * 1024 * 1024,
        listeners=[reporter],
        watch=reporter.watch,
        cancel=cancel,
        scheduler=scheduler,
    )
    try:
        with handle_signals(cancel):
            result = run_plan(plan, options)
    except RunError as exc:
        reporter.stop()
        say(f"{prog}: {exc.render()}")
        return 2 if exc.invalid else 1
    reporter.stop()
    code = outcome(result, prog, plan)
    try:
        reporter.final(result.status)
    except (OSError, ValueError):
        code = code or 128 + 13  # stdout closed before the final status: SIGPIPE semantics
    if args.format == "text":
        say(f"run record: {result.run_dir}")
    silence_broken_streams()
    if result.cancel is not None:
        hard_exit(code)
    return code


def hard_exit(code: int) -> None:
    """End a cancelled run's process without interpreter finalization: a library thread interrupted mid-call (a
    pyarrow read-ahead blocked on a killed client's pipe, a step given up on) may still be about to take the GIL,
    and finalizing around it aborts the process (``PyGILState_Release``). The record is closed; stdio is flushed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def outcome(result: RunResult, prog: str, plan: Mapping[str, Any]) -> int:
    """The exit code of a finished run, with a message when it was cancelled or its record is incomplete."""
    writers = [s["id"] for s in plan["steps"] if s.get("mode") == "write"]
    committed = [sid for sid in writers if result.status["steps"][sid]["status"] == "ok"]
    if result.record_errors:
        done = f"data committed by step(s) {', '.join(committed)}" if committed else "no data committed"
        say(f"{prog}: {done}; run record could not be written: {'; '.join(result.record_errors[:3])}")
    if result.cancel is not None:
        stuck = f"; still running when given up on: {', '.join(result.stuck)}" if result.stuck else ""
        say(f"{prog}: run cancelled ({result.cancel.reason}); open writes were rolled back{stuck}")
        return result.cancel.exit_code
    if result.record_errors:
        return EXIT_RECORD
    return 0 if result.ok else 1


def say(text: str) -> None:
    """A line on stderr; nothing when stderr is closed or broken."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(text, file=sys.stderr, flush=True)


def open_std_fds() -> None:
    """Closed standard descriptors (``2>&-``) become /dev/null: nothing the run opens may take their number,
    or a library writing to fd 2 would write into a run file."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def silence_broken_streams() -> None:
    """After a broken pipe on stdout/stderr, point them at /dev/null so the interpreter's exit flush is quiet."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream.fileno())
                os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    open_std_fds()
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
