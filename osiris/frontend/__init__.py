"""Frontends: read a pipeline file (OML YAML or the text syntax) and lower it to ``ir.Pipeline``.

``load(path)`` picks the syntax from the extension (``.yaml``/``.yml`` = OML, ``.osiris`` = text) unless told;
it never raises for bad input: problems come back as diagnostics.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from osiris.ir import Diagnostic, Pipeline
from osiris.ir.diagnostics import error
from osiris.ir.span import Span

SYNTAXES = ("oml", "text")
_BY_SUFFIX = {".yaml": "oml", ".yml": "oml", ".osiris": "text"}


@attrs.frozen
class Source:
    """A file's text and the name it is reported under (the path as the user gave it)."""

    name: str
    text: str


@attrs.frozen
class ParseResult:
    pipeline: Pipeline | None
    diagnostics: tuple[Diagnostic, ...]
    source: Source | None


def syntax_of(path: str) -> str | None:
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def read_source(path: str) -> tuple[Source | None, Diagnostic | None]:
    """Read a file as UTF-8 (a BOM is dropped); an unreadable file is an OSR-E001 diagnostic."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, error("OSR-E001", f"cannot read '{path}': {exc.strerror or exc}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8-sig", "replace")) + 1
        return None, error(
            "OSR-E001",
            f"'{path}' is not UTF-8 text (byte {exc.start}, 0x{data[exc.start]:02x}: {exc.reason})",
            Span.point(path, line, col),
        )
    return Source(path, text), None


def parse_source(source: Source, syntax: str) -> tuple[Pipeline | None, list[Diagnostic]]:
    """Parse text already read; ``syntax`` is ``oml`` or ``text``."""
    if syntax == "oml":
        from osiris.frontend.oml import parse_oml

        return parse_oml(source.text, source.name)
    from osiris.frontend.text import parse_text

    return parse_text(source.text, source.name)


def load(path: str, syntax: str | None = None, text: str | None = None) -> ParseResult:
    """Parse the file at ``path``, or ``text`` as if it were that file's content (nothing is read then)."""
    chosen = syntax or syntax_of(path)
    if chosen not in SYNTAXES:
        return ParseResult(
            None,
            (
                error(
                    "OSR-E002",
                    f"cannot tell the syntax of '{path}'",
                    None,
                    "use .yaml/.yml for OML or .osiris for the text syntax, or pass --syntax oml|text",
                ),
            ),
            None,
        )
    source, problem = (Source(path, text), None) if text is not None else read_source(path)
    if source is None:
        assert problem is not None
        return ParseResult(None, (problem,), None)
    pipeline, diagnostics = parse_source(source, chosen)
    return ParseResult(pipeline, tuple(diagnostics), source)
