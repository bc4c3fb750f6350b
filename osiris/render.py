"""The one diagnostic renderer: ``file:line:col: severity[CODE]: message``, the source line, a caret under the span.

``--format json`` gives the same diagnostics as a list of objects. Every quoted source line, message and note
passes the mask, whatever pass produced the diagnostic: spans listed in ``Diagnostic.redact``, the values of
secret-named fields and secret-looking text (``secret_ranges``) become ``***``, so a secret never reaches the
terminal even when an earlier pass stopped the compile before ``redact_secrets`` ran.

Text from the user (names, values, paths, quoted source lines) never reaches a terminal raw: control characters
(C0 but tab, DEL, C1) and the bidi/line-separator marks, which could retitle a terminal window, recolour or hide
text, are shown as ``\x1b``-style escapes in messages and notes and as one-column symbols (``␛``, ``�``) in quoted
source lines, so the caret stays under its column. JSON keeps every value exactly, escaped (``\u001b``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from osiris.ir.diagnostics import Diagnostic, Severity, sort_key
from osiris.ir.span import Span
from osiris.secrets import MASK, SECRET_NAMES, is_placeholder, is_secret_name

if TYPE_CHECKING:  # rich is imported when a diagnostic is rendered (start-up of a clean compile skips it)
    from rich.console import Console
    from rich.text import Text

# Characters a terminal may act on: C0 controls (tab and newline are handled where they are allowed), DEL, C1
# controls, and the Unicode marks that reorder or break lines (bidi embeddings/overrides/isolates, LS, PS).
_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_JSON_UNSAFE_RE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_TEXT_BREAKS = re.compile("\r\n|[\r\n]")
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.NOTE: "bold cyan"}


# ``name:`` (YAML) or ``name =`` (text syntax), then the value: quoted, or plain up to the line's end
# a field starts a line (after indentation or "- ") or a flow entry (after "{" or ",")
_FIELD = re.compile(r"""(?:^[ \t]*(?:-[ \t]+)?|[{,][ \t]*)["']?(?P<key>[A-Za-z_][\w-]*)["']?[ \t]*[:=][ \t]*""")
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?""")


def _flow_depth(text: str) -> int:
    return text.count("{") + text.count("[") - text.count("}") - text.count("]")


@functools.cache
def _spec_secret_names() -> frozenset[str]:
    """Every field a component spec marks secret (built-ins and entry points), for lines no pass has seen."""
    try:
        from osiris.components.registry import default_registry

        return frozenset(f for spec in default_registry() for f in (*spec.secret_fields, *spec.connection_secrets))
    except Exception:  # a broken spec is reported elsewhere; the name rule still applies
        return frozenset()


def _secret_key(key: str) -> bool:
    """A secret name (the name rule, or a field a spec marks secret), or one close enough to be a typo of one
    (``pasword``): its value is never echoed."""
    import difflib

    return (
        is_secret_name(key)
        or key in _spec_secret_names()
        or (len(key) >= 5 and bool(difflib.get_close_matches(key.lower(), SECRET_NAMES, n=1, cutoff=0.85)))
    )


def _value_end(line: str, start: int, in_flow: bool) -> int:
    quoted = _QUOTED.match(line, start)
    if quoted:
        return quoted.end()
    end = len(line)
    comment = re.search(r"\s#", line[start:])
    if comment:
        end = start + comment.start()
    if in_flow:  # inside {...} / [...]: a plain value ends at , } or ]
        cut = re.search(r"[,}\]]", line[start:end])
        end = start + cut.start() if cut else end
    return start + len(line[start:end].rstrip())


def secret_ranges(line: str) -> list[tuple[int, int]]:
    """1-based [start, stop) column ranges of what looks secret in a source line, whatever pass (if any) ran:
    the value of a secret-named field (``password: x``, ``pg_dsn = "..."``; placeholders are kept) and
    secret-looking text anywhere (URL credentials, ``password=`` in a connection string, known token forms)."""
    from osiris.passes.redact_secrets import find_secrets  # the one scan of secret-looking text

    ranges = [(start + 1, end + 1) for _, _, start, end in find_secrets(line)]
    for m in _FIELD.finditer(line):
        if not _secret_key(m["key"]):
            continue
        start = m.end()
        end = _value_end(line, start, _flow_depth(line[: m.start()]) > 0)
        if end > start and not is_placeholder(line[start:end].strip("\"'")):
            ranges.append((start + 1, end + 1))
    return ranges


def mask_text(text: str) -> str:
    """A message or note with secret-looking text (URL credentials, ``password=``, token forms) masked. Messages
    are prose: ``key = value`` there is an example, not a field, so the field rule of ``secret_ranges`` is not
    applied (messages never quote a secret field's value)."""
    from osiris.passes.redact_secrets import find_secrets

    found = sorted(((start, end) for _, _, start, end in find_secrets(text)), reverse=True)
    for start, end in found:
        text = text[:start] + MASK + text[end:]
    return text


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: each unsafe character as an escape (``\x1b``, ``\u202e``); tabs
    are kept."""
    return _UNSAFE_RE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\t":
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _symbol(match: re.Match[str]) -> str:
    """One column for one unsafe character: the Unicode control picture of C0 controls and DEL, else U+FFFD."""
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def _shown_line(line: str) -> str:
    """A source line as quoted under a diagnostic: tabs as one space and unsafe characters as one symbol each, so
    columns (counted in characters) stay where the caret says."""
    return _UNSAFE_RE.sub(_symbol, line.expandtabs(1))


@functools.lru_cache(maxsize=8)
def _lines(source: str, file: str) -> list[str]:
    """The lines of a source as its frontend counts them (YAML also breaks at NEL, LS and PS; the text syntax
    only at LF, CRLF and CR); computed once per file, however many diagnostics quote it."""
    breaks = _YAML_BREAKS if file.lower().endswith((".yaml", ".yml")) else _TEXT_BREAKS
    return breaks.split(source)


def _masked_line(line: str, line_no: int, redact: Iterable[Span], col: int, end_col: int) -> tuple[str, int, int]:
    """The line with redacted spans and secret-looking parts replaced by MASK, and the caret range moved to
    match."""
    ranges = secret_ranges(line)
    for span in redact:
        if span.line <= line_no <= span.end_line:
            start = span.col if span.line == line_no else 1
            stop = span.end_col if span.end_line == line_no else len(line) + 1
            ranges.append((start, stop))
    if not ranges:
        return line, col, end_col
    merged: list[list[int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    out, shift_col, shift_end, pos = [], 0, 0, 1
    for start, stop in merged:
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
    where = f"{printable(str(d.span))}: " if d.span else ""
    text.append(where, style="bold")
    text.append(f"{d.severity.value}[{d.code}]", style=_STYLE[d.severity])
    text.append(f": {printable(mask_text(d.message))}\n", style="bold")
    span = d.span
    source = sources.get(span.file) if span else None
    if span is not None and source is not None:
        lines = _lines(source, span.file)
        if 1 <= span.line <= len(lines):
            raw = lines[span.line - 1].expandtabs(1)
            end_col = span.end_col if span.end_line == span.line else len(raw) + 1
            line, col, end_col = _masked_line(raw, span.line, d.redact, span.col, end_col)
            line = _shown_line(line)
            gutter = " " * len(str(span.line))
            width = max(1, min(end_col, len(line) + 1) - col)
            text.append(f"{gutter} |\n", style="blue")
            text.append(f"{span.line} | ", style="blue")
            text.append(f"{line}\n")
            text.append(f"{gutter} | ", style="blue")
            text.append(" " * (col - 1) + "^" * width + "\n", style=_STYLE[d.severity])
    for note in d.notes:
        text.append("  = ", style="blue")
        text.append(f"{printable(mask_text(note))}\n")
    return text


def render_plain(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """All diagnostics as plain text, sorted (what golden files hold)."""
    return "".join(render_text(d, sources).plain for d in sorted(diagnostics, key=sort_key))


def print_diagnostics(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], console: Console) -> None:
    for d in sorted(diagnostics, key=sort_key):
        console.print(render_text(d, sources), end="", soft_wrap=True, highlight=False)


def to_json_data(d: Diagnostic) -> dict[str, object]:
    data: dict[str, object] = {"severity": d.severity.value, "code": d.code, "message": mask_text(d.message)}
    if d.span:
        data.update(
            file=d.span.file, line=d.span.line, col=d.span.col, end_line=d.span.end_line, end_col=d.span.end_col
        )
    data["notes"] = [mask_text(n) for n in d.notes]
    return data


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """The diagnostics as JSON. C0 controls are escaped by ``json``; DEL, C1 and the bidi/line marks are escaped
    here too (they can only occur inside strings, so the document stays valid and decodes to the same text)."""
    text = json.dumps([to_json_data(d) for d in sorted(diagnostics, key=sort_key)], indent=2, ensure_ascii=False)
    return _JSON_UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
