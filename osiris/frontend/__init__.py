"""Frontends: read a pipeline file (OML YAML or the text syntax) and lower it to ``ir.Pipeline``.

``load(path)`` picks the syntax from the extension (``.yaml``/``.yml`` = OML, ``.osiris`` = text) unless told;
it never raises for bad input: problems come back as diagnostics.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from osiris.ir import Diagnostic, Pipeline
from osiris.ir.diagnostics import error, has_errors
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
    """``pipeline`` is None when the file has errors, except with ``load(partial=True)``: then it is the pipeline
    with the ``broken`` steps (``partial_pipeline``) kept as roots for the passes to skip (passes/poison.py),
    None only when an error is outside every step (nothing can be checked further)."""

    pipeline: Pipeline | None
    diagnostics: tuple[Diagnostic, ...]
    source: Source | None
    broken: frozenset[str] = frozenset()


# Errors outside every step that leave the IR exactly as if the offending text were absent (a forbidden top-level key
# such as `tasks:` is reported and not lowered): the steps can still be checked.
NOT_LOWERED = frozenset({"OSR-E021"})


def partial_pipeline(
    pipeline: Pipeline | None,
    diagnostics: Sequence[Diagnostic],
    also: Iterable[str] = (),
    placed: frozenset[Diagnostic] = frozenset(),
) -> tuple[Pipeline | None, frozenset[str]]:
    """A frontend's pipeline with errors, for the passes to check what the errors do not touch.

    Each error is attributed to the step whose span holds its position; ``also`` adds steps broken beyond their own
    span (the members of a dependency cycle, the steps holding a syntax error), and the errors in ``placed`` are
    already attributed by the frontend (to steps in ``also``, or to none when they lost nothing). A broken step keeps
    its place (the implicit dependency of the step below it still holds) but becomes a root (``needs: []``; what it
    needs is unchecked). None, when an error lies
    in no step (a pipeline-level problem: parameters, profiles, the header), unless it is one of ``NOT_LOWERED``, or
    step ids are not unique."""
    if pipeline is None:
        return None, frozenset()
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        return pipeline, frozenset()
    steps = pipeline.steps
    if len({s.id for s in steps}) != len(steps) or any(s.span is None for s in steps):
        return None, frozenset()
    starts = [(s.span.line, s.span.col) for s in steps if s.span is not None]
    broken = set(also)
    for d in errors:
        if d.code in NOT_LOWERED or d in placed:
            continue
        if d.span is None:
            return None, frozenset()
        at = (d.span.line, d.span.col)
        i = bisect.bisect_right(starts, at) - 1
        span = steps[i].span if i >= 0 else None
        if span is None or span.file != d.span.file or at > (span.end_line, span.end_col):
            return None, frozenset()
        broken.add(steps[i].id)
    if not broken <= {s.id for s in steps}:
        return None, frozenset()
    roots = tuple(attrs.evolve(s, needs=(), needs_spans=()) if s.id in broken else s for s in steps)
    return attrs.evolve(pipeline, steps=roots), frozenset(broken)


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
    """Parse text already read; ``syntax`` is ``oml`` or ``text``. The pipeline is None when there are errors."""
    pipeline, diagnostics, _, _ = _parse(source, syntax)
    return (None if has_errors(diagnostics) else pipeline), diagnostics


def _parse(
    source: Source, syntax: str
) -> tuple[Pipeline | None, list[Diagnostic], frozenset[str], frozenset[Diagnostic]]:
    """The pipeline as far as it could be lowered (see ``partial``), the diagnostics, the steps broken beyond their
    span, and the errors the frontend attributed itself (``partial_pipeline``)."""
    if syntax == "oml":
        from osiris.frontend.oml import parse_oml_partial

        return (*parse_oml_partial(source.text, source.name), frozenset())
    from osiris.frontend.text import parse_text_partial

    return parse_text_partial(source.text, source.name)


def load(path: str, syntax: str | None = None, text: str | None = None, *, partial: bool = False) -> ParseResult:
    """Parse the file at ``path``, or ``text`` as if it were that file's content (nothing is read then).

    With ``partial``, a file with errors still gives a pipeline when they are all in steps (``ParseResult``)."""
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
    pipeline, diagnostics, also, placed = _parse(source, chosen)
    if not has_errors(diagnostics):
        return ParseResult(pipeline, tuple(diagnostics), source)
    if not partial:
        return ParseResult(None, tuple(diagnostics), source)
    kept, broken = partial_pipeline(pipeline, diagnostics, also, placed)
    return ParseResult(kept, tuple(diagnostics), source, broken)
