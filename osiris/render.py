"""The one diagnostic renderer: ``file:line:col: severity[CODE]: message``, the source line, a caret under the span.

``--format json`` gives the same diagnostics as a list of objects. Spans listed in ``Diagnostic.redact`` are
masked wherever a source line is quoted, so a secret never reaches the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from osiris.ir.diagnostics import Diagnostic, Severity, sort_key
from osiris.ir.span import Span

if TYPE_CHECKING:  # rich is imported when a diagnostic is rendered (start-up of a clean compile skips it)
    from rich.console import Console
    from rich.text import Text

MASK = "********"
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.NOTE: "bold cyan"}


def _masked_line(line: str, line_no: int, redact: Iterable[Span], col: int, end_col: int) -> tuple[str, int, int]:
    """The line with redacted ranges replaced by MASK, and the caret range moved to match."""
    ranges = []
    for span in redact:
        if span.line <= line_no <= span.end_line:
            start = span.col if span.line == line_no else 1
            stop = span.end_col if span.end_line == line_no else len(line) + 1
            ranges.append((start, stop))
    if not ranges:
        return line, col, end_col
    out, shift_col, shift_end, pos = [], 0, 0, 1
    for start, stop in sorted(ranges):
        if start < pos:
            continue
        out.append(line[pos - 1 : start - 1])
        out.append(MASK)
        delta = len(MASK) - (stop - start)
        if start < col:
            shift_col += delta
        if start < end_col:
            shift_end += delta
        pos = stop
    out.append(line[pos - 1 :])
    return "".join(out), col + shift_col, end_col + shift_end


def render_text(d: Diagnostic, sources: Mapping[str, str]) -> Text:
    """One diagnostic as rich Text (plain when printed without colour)."""
    from rich.text import Text

    text = Text()
    where = f"{d.span}: " if d.span else ""
    text.append(where, style="bold")
    text.append(f"{d.severity.value}[{d.code}]", style=_STYLE[d.severity])
    text.append(f": {d.message}\n", style="bold")
    span = d.span
    source = sources.get(span.file) if span else None
    if span is not None and source is not None:
        lines = source.splitlines()
        if 1 <= span.line <= len(lines):
            raw = lines[span.line - 1].expandtabs(1)
            end_col = span.end_col if span.end_line == span.line else len(raw) + 1
            line, col, end_col = _masked_line(raw, span.line, d.redact, span.col, end_col)
            gutter = " " * len(str(span.line))
            width = max(1, min(end_col, len(line) + 1) - col)
            text.append(f"{gutter} |\n", style="blue")
            text.append(f"{span.line} | ", style="blue")
            text.append(f"{line}\n")
            text.append(f"{gutter} | ", style="blue")
            text.append(" " * (col - 1) + "^" * width + "\n", style=_STYLE[d.severity])
    for note in d.notes:
        text.append("  = ", style="blue")
        text.append(f"{note}\n")
    return text


def render_plain(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """All diagnostics as plain text, sorted (what golden files hold)."""
    return "".join(render_text(d, sources).plain for d in sorted(diagnostics, key=sort_key))


def print_diagnostics(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], console: Console) -> None:
    for d in sorted(diagnostics, key=sort_key):
        console.print(render_text(d, sources), end="", soft_wrap=True, highlight=False)


def to_json_data(d: Diagnostic) -> dict[str, object]:
    data: dict[str, object] = {"severity": d.severity.value, "code": d.code, "message": d.message}
    if d.span:
        data.update(
            file=d.span.file, line=d.span.line, col=d.span.col, end_line=d.span.end_line, end_col=d.span.end_col
        )
    data["notes"] = list(d.notes)
    return data


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([to_json_data(d) for d in sorted(diagnostics, key=sort_key)], indent=2, ensure_ascii=False)
