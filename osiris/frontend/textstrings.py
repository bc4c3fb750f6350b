"""String literals of the text syntax: escapes, triple-quoted blocks, and the canonical way to write a string back.

Decoding (docs/text-syntax.md): ``"..."`` and ``\"\"\"...\"\"\"`` accept the escapes ``\\\\ \\" \\n \\t \\r \\uXXXX
\\UXXXXXXXX``; any other backslash sequence is an error. A triple-quoted string whose opening ``\"\"\"`` ends its line
is a *block*: that first line break is dropped, a last line holding only whitespace (the line of the closing
``\"\"\"``) is dropped with the line break before it, and the whitespace prefix common to every non-blank line and
the closing line is removed from every line. Escapes are decoded after that, so ``\\t`` never counts as indentation.
"""

from __future__ import annotations

import re

_SIMPLE = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_HEX_LEN = {"u": 4, "U": 8}
_HEX = re.compile(r"[0-9A-Fa-f]+")
_LEADING_WS = re.compile(r"[ \t]*")
# Characters the printer always escapes: controls (tab and newline excepted in blocks) and everything Python's
# str.splitlines() treats as a line break, so diagnostics' line numbers never drift.
_NEEDS_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")


def find_bad_escape(raw: str) -> tuple[int, str] | None:
    """The offset and text of the first invalid escape in ``raw`` (a token's text), or None."""
    i = 0
    while True:
        i = raw.find("\\", i)
        if i < 0 or i + 1 >= len(raw):
            return None
        kind = raw[i + 1]
        if kind in _SIMPLE:
            i += 2
            continue
        if kind in _HEX_LEN:
            digits = raw[i + 2 : i + 2 + _HEX_LEN[kind]]
            if len(digits) == _HEX_LEN[kind] and _HEX.fullmatch(digits):
                code = int(digits, 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    i += 2 + len(digits)
                    continue
            return i, raw[i : i + 2 + len(digits)]
        return i, raw[i : i + 2].rstrip("\n")


def unescape(body: str) -> str:
    """Decode the escapes of a string body already checked by ``find_bad_escape``."""
    out: list[str] = []
    i = 0
    while True:
        j = body.find("\\", i)
        if j < 0:
            out.append(body[i:])
            return "".join(out)
        out.append(body[i:j])
        kind = body[j + 1]
        if kind in _HEX_LEN:
            n = _HEX_LEN[kind]
            out.append(chr(int(body[j + 2 : j + 2 + n], 16)))
            i = j + 2 + n
        else:
            out.append(_SIMPLE[kind])
            i = j + 2


def dedent_block(body: str) -> str:
    """Apply the block rule to the body of a triple-quoted string (between the quotes, escapes not decoded)."""
    first, sep, rest = body.partition("\n")
    if not sep or first.strip(" \t"):
        return body
    lines = rest.split("\n")
    closing = None
    if not lines[-1].strip(" \t"):
        closing = lines.pop()
    indents = [_LEADING_WS.match(line).group() for line in lines if line.strip(" \t")]  # type: ignore[union-attr]
    if closing is not None:
        indents.append(closing)
    prefix = _common_prefix(indents)
    out = []
    for line in lines:
        if line.startswith(prefix):
            out.append(line[len(prefix) :])
        else:  # a blank line shorter than the indentation
            out.append(line[len(_common_prefix([prefix, line])) :])
    return "\n".join(out)


def _common_prefix(items: list[str]) -> str:
    if not items:
        return ""
    lo, hi = min(items), max(items)
    n = 0
    while n < len(lo) and lo[n] == hi[n]:
        n += 1
    return lo[:n]


def decode(raw: str) -> str:
    """The value of a string token (quotes included in ``raw``), escapes already validated."""
    if raw.startswith('"""'):
        return unescape(dedent_block(raw[3:-3].replace("\r\n", "\n")))
    return unescape(raw[1:-1])


def _escape_char(ch: str) -> str:
    return {"\r": "\\r", "\t": "\\t", "\n": "\\n"}.get(ch) or f"\\u{ord(ch):04x}"


def quote(value: str) -> str:
    """``value`` as a one-line ``"..."`` literal."""
    body = value.replace("\\", "\\\\").replace('"', '\\"')
    body = re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", lambda m: _escape_char(m.group()), body)
    return f'"{body}"'


def block(value: str, indent: str) -> str:
    """``value`` (which holds a line break) as a triple-quoted block whose lines and closing quotes sit at
    ``indent``; decodes back to exactly ``value``."""
    body = value.replace("\\", "\\\\")
    body = re.sub(r'"{3,}', lambda m: '\\"' * len(m.group()), body)
    body = _NEEDS_ESCAPE.sub(lambda m: _escape_char(m.group()), body.replace("\r", "\\r"))
    lines = [indent + line if line else "" for line in body.split("\n")]
    return '"""\n' + "\n".join(lines) + "\n" + indent + '"""'
