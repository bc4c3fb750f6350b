"""Helpers shared by subcommands: consoles, loading files, printing diagnostics, parsing ``--param``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from osiris.ir import Diagnostic, Pipeline
from osiris.ir.diagnostics import has_errors
from osiris.passes.manager import PASSES
from osiris.render import print_diagnostics, printable, render_json

if TYPE_CHECKING:  # rich and the IR serde are imported when used (start-up)
    from rich.console import Console


def stdout() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    options = choices or ("text", "json")
    parser.add_argument("--format", choices=options, default=options[0], help="output format (default: %(default)s)")


def add_syntax(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--syntax", choices=("oml", "text"), help="override the syntax chosen by the file extension")


def add_compile_options(parser: argparse.ArgumentParser) -> None:
    """--param / --profile, for every command that compiles a pipeline."""
    parser.add_argument(
        "--param", action="append", default=[], type=param_pair, metavar="NAME=VALUE", help="set a parameter"
    )
    parser.add_argument("--profile", help="activate a profile of the pipeline")


def add_print_ir_after(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--print-ir-after", metavar="PASS", help="print the IR (JSON) after the named pass")


def print_ir_after(name: str | None) -> tuple[Callable[[str, Pipeline], None] | None, str | None]:
    """The ``after`` callback for ``--print-ir-after NAME`` (``resolve_params`` or ``resolve-params``), or an error."""
    if name is None:
        return None, None
    key = name.replace("_", "-")
    if key not in PASSES:
        return None, f"unknown pass {name!r} for --print-ir-after (passes: {', '.join(PASSES)})"

    def after(pass_name: str, pipeline: Pipeline) -> None:
        if pass_name == key:
            from osiris.ir.serde import to_json

            print(to_json(pipeline))

    return after, None


def param_pair(item: str) -> tuple[str, str]:
    """One ``--param NAME=VALUE`` (argparse ``type``: a malformed one is a usage error, exit 2)."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"malformed --param {item!r} (expected NAME=VALUE)")
    return name.strip(), value


def parse_params(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The ``--param`` pairs as a mapping (a later one wins)."""
    return dict(pairs)


def report(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], fmt: str = "text") -> bool:
    """Print diagnostics (text to stderr, json to stdout); True when any is an error."""
    diags = list(diagnostics)
    if fmt == "json":
        print(render_json(diags))
    elif diags:
        print_diagnostics(diags, sources, stderr())
    return has_errors(diags)


def failure_code(diagnostics: Iterable[Diagnostic]) -> int:
    """The exit code of a compile that failed: 3 when osirisc itself broke (OSR-E009, a bug: the file may be
    valid), else 2 (the input is wrong)."""
    return 3 if any(d.code == "OSR-E009" for d in diagnostics) else 2


def terminal_text(text: str) -> str:
    """Text for stdout/stderr with every line made ``printable``: user text (step ids, paths, values) may hold
    terminal control sequences, which are shown escaped, never sent raw."""
    return "\n".join(printable(line) for line in text.split("\n"))
