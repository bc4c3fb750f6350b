"""Diagnostics: the one way problems are reported, by every stage.

A pass or frontend never raises for bad input; it returns ``Diagnostic`` values. Codes are stable
(``OSR-E001``) and documented in the catalogue (``osirisc explain CODE``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from osiris.ir.span import Span


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@attrs.frozen
class Diagnostic:
    """One problem at one place. ``redact`` lists spans whose source text must never be printed (secrets)."""

    severity: Severity
    code: str
    message: str
    span: Span | None = None
    notes: tuple[str, ...] = ()
    redact: tuple[Span, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, span: Span | None = None, *notes: str, redact: Iterable[Span] = ()) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, span, tuple(notes), tuple(redact))


def warning(code: str, message: str, span: Span | None = None, *notes: str, redact: Iterable[Span] = ()) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, span, tuple(notes), tuple(redact))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    """Stable order for output: by file, position, then code."""
    if d.span is None:
        return ("", 0, 0, d.code)
    return (d.span.file, d.span.line, d.span.col, d.code)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint, or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
