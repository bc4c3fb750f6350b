"""``osirisc``: the command line. Each subcommand is a module here with ``add_parser(sub)`` and ``run(args) -> int``.

Exit codes (docs/design.md): 0 ok (warnings allowed), 1 a run failed, 2 invalid input or usage, 3 internal error.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from osiris import __version__

# Subcommand name -> module under osiris.cli. Modules are imported only when needed (fast start-up).
COMMANDS: dict[str, str] = {
    "check": "check",
    "components": "components",
    "build": "build",
    "graph": "graph",
    "explain": "explain",
    "fmt": "fmt",
    "plan": "plan",
    "introspect": "introspect",
    "run": "run",
    "emit": "emit",
    "init": "init",
    "runs": "runs",
    "report": "report",
    "mcp": "mcp",
    "connections": "connections",
    "state": "state",
}

# Commands that compile, print and exit. Python's cyclic collector runs ~20 times in a cold `check` (~10 ms of
# ~0.3 s) rescanning imported modules and the IR, which live until exit anyway; the console script turns it off for
# these. Commands that move data or serve (run, mcp, ...) keep it.
COMPILE_ONLY = frozenset({"check", "build", "graph", "explain", "fmt", "plan", "emit", "components"})

EXIT_OK, EXIT_RUN_FAILED, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message short and on stderr."""


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = _Parser(prog="osirisc", description="A deterministic compiler for data pipelines.")
    parser.add_argument("--version", action="version", version=f"osirisc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if command in (None, name):
            importlib.import_module(f"osiris.cli.{module}").add_parser(sub)
        else:
            sub.add_parser(name, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:  # Ctrl-C while the command's modules are imported (most of a short command's time) or while it runs
        return _dispatch(argv)
    except KeyboardInterrupt:
        print("osirisc: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:  # DuckDB, pyarrow...: the environment's fault, not the pipeline's nor osirisc's
        if os.environ.get("OSIRIS_DEBUG"):
            raise
        from osiris.runtime.errors import environment_error

        print(f"osirisc: {environment_error(exc)}", file=sys.stderr)
        return EXIT_INTERNAL


def _dispatch(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(args_list)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_INVALID
    module = importlib.import_module(f"osiris.cli.{COMMANDS[args.command]}")
    try:
        return int(module.run(args))
    except BrokenPipeError:
        return EXIT_OK
    except ImportError:
        raise  # main's environment error
    except Exception as exc:  # the last line of defence: never a traceback for any input
        if os.environ.get("OSIRIS_DEBUG"):
            raise
        print(f"osirisc: internal error in '{args.command}': {type(exc).__name__}: {exc}", file=sys.stderr)
        print("osirisc: this is a bug in osirisc; rerun with OSIRIS_DEBUG=1 for the traceback", file=sys.stderr)
        return EXIT_INTERNAL


def entry() -> None:
    if next((a for a in sys.argv[1:] if not a.startswith("-")), None) in COMPILE_ONLY:
        gc.disable()
    sys.exit(main())
