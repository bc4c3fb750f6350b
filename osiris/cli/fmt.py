"""``osirisc fmt FILE [--to text|oml] [--check | --write]``: print a pipeline in canonical form.

By default the canonical text goes to stdout, in the file's own syntax unless ``--to`` converts it. ``--check``
exits 2 (naming the file) when the file is not canonical; ``--write`` replaces the file atomically (a temporary
file in the same folder, then a rename). Comments are not part of the IR, so formatting drops them: ``--write``
refuses a file that has comments unless ``--drop-comments`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import yaml
from lark.exceptions import LarkError

from osiris.cli import common
from osiris.frontend import SYNTAXES, Source, parse_source, read_source, syntax_of
from osiris.frontend.print_oml import to_oml
from osiris.frontend.print_text import to_text
from osiris.frontend.text import parser
from osiris.ir import Diagnostic


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fmt", help="print a pipeline file in canonical form (or check / rewrite it)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--to", choices=("text", "oml"), help="output syntax (default: the file's own)")
    common.add_syntax(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 2 when the file is not canonically formatted")
    mode.add_argument("--write", action="store_true", help="rewrite the file in place (atomically)")
    p.add_argument("--drop-comments", action="store_true", help="let --write drop the file's comments")


def format_source(text: str, name: str, syntax: str, to: str) -> tuple[str | None, list[Diagnostic], bool]:
    """(canonical text or None, diagnostics, whether the source has comments)."""
    pipeline, diagnostics = parse_source(Source(name, text), syntax)
    if pipeline is None:
        return None, diagnostics, False
    out = to_oml(pipeline) if to == "oml" else to_text(pipeline)
    return out, diagnostics, has_comments(text, syntax)


def has_comments(text: str, syntax: str) -> bool:
    """Whether the source holds a comment (which formatting would drop)."""
    if syntax == "text":
        try:
            return any(tok.type == "COMMENT" for tok in parser().lex(text.replace("\r\n", "\n"), dont_ignore=True))
        except LarkError:
            return "#" in text
    try:
        return _yaml_has_comment(text)
    except yaml.YAMLError:
        return "#" in text


def _yaml_has_comment(text: str) -> bool:
    """PyYAML drops comments while scanning; a '#' outside every scalar is a comment."""
    pos = 0  # scalars come in order and do not overlap: look for '#' only between them (linear time)
    for tok in yaml.scan(text):
        if isinstance(tok, yaml.ScalarToken):
            if text.find("#", pos, tok.start_mark.index) >= 0:
                return True
            pos = max(pos, tok.end_mark.index)
    return text.find("#", pos) >= 0


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: write a temporary file beside it, then rename over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        with contextlib.suppress(OSError):
            Path(tmp).chmod(path.stat().st_mode & 0o7777)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    syntax = args.syntax or syntax_of(args.file)
    if syntax not in SYNTAXES:
        print(
            f"osirisc fmt: cannot tell the syntax of '{args.file}' (use .yaml/.yml, .osiris or --syntax)",
            file=sys.stderr,
        )
        return 2
    to = args.to or syntax
    if args.write and to != syntax:
        print(
            f"osirisc fmt: --write keeps the syntax of '{args.file}'; to convert, redirect the output: "
            f"osirisc fmt {args.file} --to {to} > NEWFILE",
            file=sys.stderr,
        )
        return 2
    source, problem = read_source(args.file)
    if source is None:
        assert problem is not None
        common.report([problem], {})
        return 2
    out, diagnostics, comments = format_source(source.text, source.name, syntax, to)
    if out is None:
        common.report(diagnostics, {source.name: source.text})
        return 2
    if args.check:
        if out != source.text:
            why = " (formatting drops comments)" if comments else ""
            print(f"osirisc fmt: {args.file} is not canonically formatted{why}", file=sys.stderr)
            return 2
        return 0
    if args.write:
        if comments and not args.drop_comments:
            print(
                f"osirisc fmt: {args.file} has comments, which formatting would drop; not rewritten "
                "(pass --drop-comments to rewrite it anyway)",
                file=sys.stderr,
            )
            return 2
        if out != source.text:
            write_atomically(Path(args.file), out)
        return 0
    sys.stdout.write(out)
    return 0
