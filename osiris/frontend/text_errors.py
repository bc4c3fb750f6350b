"""Syntax errors of the text syntax as one diagnostic each, with friendly messages for the common mistakes.

``text_recovery`` calls ``syntax_diagnostic`` for each error of a file. ``match_examples`` recognises the mistake
from the parser state (a wrong keyword, ``:`` for ``=``, unquoted SQL, a missing component); unterminated strings
and unclosed brackets are recognised from the characters themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from osiris.ir.diagnostics import Diagnostic, did_you_mean, error
from osiris.ir.span import Span

KEYWORDS = ("oml", "description", "metadata", "schedule", "param", "profile", "step")
_ITEM_KEYWORDS = ("step", "param", "profile")

_EXAMPLES: dict[str, list[str]] = {
    "unknown-keyword": [
        "pipeline p { stpe",
        'pipeline p { oml "0.1.0" parm',
        "pipeline p { step a: x.y read {} bogus",
        "pipeline p { step a: x.y read bogus",
        "pipeline p { step a: x.y read needs [a] bogus",
        "pipeline p { schedule 1 bogus",
        "pipeline p { param x = 1 bogus",
    ],
    "colon": [
        'pipeline p { step a: x.y read { query: "x" } }',
        "pipeline p { metadata { a: 1 } }",
        "pipeline p { step a: x.y read { a = { b: 1 } } }",
    ],
    "unquoted": [
        "pipeline p { step a: x.y read { query = SELECT",
        "pipeline p { step a: x.y read { a = [x",
        "pipeline p { step a: x.y read { a = [1, x",
        "pipeline p { param x = abc",
        "pipeline p { schedule daily",
        "pipeline p { oml 0",
        "pipeline p { description abc",
    ],
    "no-component": [
        "pipeline p { step a: {",
        "pipeline p { step a: needs",
        "pipeline p { step a: }",
        "pipeline p { step a: [",
    ],
    "missing-brace": [
        "pipeline p { step a: x.y read { a = 1 step b",
        "pipeline p { step a: x.y read { a = 1 param b",
    ],
    "no-colon": [
        "pipeline p { step a x.y",
        "pipeline p { step a {",
    ],
}

_TERMINALS = {
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "EQUAL": "'='",
    "COLON": "':'",
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "CONNREF": "@family.alias",
    "PARAMREF": "${params.NAME}",
    "COMPONENT": "a component",
    "$END": "the end of the file",
}


def _display(terminal: str) -> str:
    if terminal.startswith("KW_"):
        return f"'{terminal[3:].lower()}'"
    return _TERMINALS.get(terminal, terminal)


def _expected(names: Iterable[str]) -> str:
    shown = sorted({_display(n) for n in names})
    return ", ".join(shown)


def _token_span(file: str, exc: UnexpectedToken) -> Span:
    tok = exc.token
    if tok.type == "$END" or tok.line is None:
        return Span.point(file, exc.line if exc.line > 0 else 1, exc.column if exc.column > 0 else 1)
    return Span(file, tok.line, tok.column or 1, tok.end_line or tok.line, tok.end_column or (tok.column or 1) + 1)


def _unclosed(source: str, lark: Lark) -> tuple[str, int, int] | None:
    """The innermost bracket left open at the end of ``source``: (char, line, col)."""
    stack: list[tuple[str, int, int]] = []
    try:
        for tok in lark.lex(source):
            if tok.value in ("{", "["):
                stack.append((tok.value, tok.line or 1, tok.column or 1))
            elif tok.value in ("}", "]") and stack:
                stack.pop()
    except UnexpectedInput:
        return None
    return stack[-1] if stack else None


def _previous_word(source: str, exc: UnexpectedToken) -> str:
    before = source[: exc.token.start_pos] if exc.token.start_pos is not None else ""
    words = before.split()
    return words[-1] if words else ""


def syntax_diagnostic(
    exc: UnexpectedInput, source: str, file: str, lark: Lark, unclosed: tuple[str, int, int] | None = None
) -> Diagnostic:
    """One diagnostic for a lark parse error (``lark``: the parser that raised it; ``unclosed``: the innermost
    bracket open at the error, when the caller tracked it, else found by lexing the whole source)."""
    if isinstance(exc, UnexpectedCharacters):
        return _characters(exc, source, file)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _end_of_file(source, file, unclosed or _unclosed(source, lark))
    assert isinstance(exc, UnexpectedToken)
    span = _token_span(file, exc)
    tok = exc.token
    label = _match_examples(exc, lark)
    if label is None or not _fits(label, tok.type):  # same parser state, but a different token: ask the tokens
        label = _classify(exc)
    word = _previous_word(source, exc)
    if label == "missing-brace" and word in _ITEM_KEYWORDS:
        return error(
            "OSR-E059",
            f"missing '}}' before this {word}",
            span,
            "the block above is not closed, so this line was read as a config key",
        )
    if label == "colon":
        return error("OSR-E060", "use '=' between a key and its value, not ':'", span, "write key = value")
    if label == "unquoted":
        return error(
            "OSR-E061",
            f"text value '{tok}' needs quotes",
            span,
            'write strings in quotes: "text", or """...""" for multi-line SQL',
        )
    if label == "unknown-keyword":
        hint = did_you_mean(str(tok), KEYWORDS) or f"a pipeline body holds: {', '.join(KEYWORDS)}"
        return error("OSR-E062", f"unknown keyword '{tok}'", span, hint)
    if label == "no-component":
        return error(
            "OSR-E063",
            "missing component after 'step ID:'",
            span,
            "write step ID: COMPONENT MODE { ... }, e.g. step extract: mysql.extractor read { ... }",
        )
    if label == "no-colon":
        return error(
            "OSR-E050", f"expected ':' after the step id, found '{tok}'", span, "write step ID: COMPONENT MODE { ... }"
        )
    expected = exc.accepts or exc.expected
    if label == "missing-brace":
        return error("OSR-E050", f"expected '=' after the key '{word}', found '{tok}'", span, "write key = value")
    if "KW_PIPELINE" in expected:
        return error("OSR-E050", f"expected 'pipeline', found '{tok}'", span, "a file starts with pipeline NAME {")
    return error("OSR-E050", f"unexpected '{tok}'", span, f"expected {_expected(expected)}")


def _match_examples(exc: UnexpectedToken, lark: Lark) -> str | None:
    """The label of the example that fails in the same parser state as ``exc`` (an exact token match first).

    Lark's ``UnexpectedInput.match_examples`` with ``use_accepts=True``, written out because lark 1.3's own
    crashes (a ``%d`` debug format given a ``ParserState``) whenever an example reaches the same state with
    different accepted tokens, e.g. for ``param a b``."""
    candidate: str | None = None
    for label, examples in _examples().items():
        for example in examples:
            try:
                lark.parse(example)
            except UnexpectedInput as other:
                if other.state != exc.state:
                    continue
                if isinstance(other, UnexpectedToken) and other.accepts != exc.accepts:
                    continue
                if isinstance(other, UnexpectedToken | UnexpectedEOF) and other.token == exc.token:
                    return label
                candidate = candidate or label
    return candidate


@functools.cache
def _examples() -> dict[str, list[str]]:
    """The examples, each also after a first item (the parser state differs for the first item of a body)."""
    out: dict[str, list[str]] = {}
    for label, examples in _EXAMPLES.items():
        out[label] = [*examples, *(e.replace("pipeline p { ", 'pipeline p { oml "0.1.0" ', 1) for e in examples)]
    return out


def _fits(label: str, token_type: str) -> bool:
    words = token_type in ("NAME", "COMPONENT") or token_type.startswith("KW_")
    return {"colon": token_type == "COLON", "unquoted": words, "unknown-keyword": words, "missing-brace": words}.get(
        label, True
    )


def _classify(exc: UnexpectedToken) -> str | None:
    """The mistake, from the expected tokens, where no example matched the parser state (e.g. nested deeper)."""
    tok, expected = exc.token, exc.accepts or exc.expected
    words = tok.type in ("NAME", "COMPONENT") or tok.type.startswith("KW_")
    if tok.type == "COLON" and "EQUAL" in expected:
        return "colon"
    if words and "EQUAL" in expected:
        return "missing-brace"
    if words and "INT" in expected:
        return "unquoted"
    if tok.type in ("NAME", "COMPONENT") and "KW_STEP" in expected:
        return "unknown-keyword"
    if "COMPONENT" in expected:
        return "no-component"
    if "COLON" in expected:
        return "no-colon"
    return None


def _characters(exc: UnexpectedCharacters, source: str, file: str) -> Diagnostic:
    char = exc.char
    line_end = source.find("\n", exc.pos_in_stream)
    rest = source[exc.pos_in_stream : line_end if line_end >= 0 else len(source)]
    here = Span(file, exc.line, exc.column, exc.line, exc.column + max(1, len(rest.rstrip())))
    if char == '"':
        if source.startswith('"""', exc.pos_in_stream):
            return error("OSR-E051", 'unterminated string: """ without closing """', here, 'close the string with """')
        return error(
            "OSR-E051",
            "unterminated string",
            here,
            'close it with " on the same line; use """...""" for text over several lines',
        )
    if char == "$":
        return error("OSR-E057", "unclosed placeholder: '${' without '}'", here, "write ${params.NAME}")
    point = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
    allowed = exc.allowed or set()
    if "INT" in allowed or ("STRING" in allowed and "NAME" not in allowed):
        return error(
            "OSR-E061",
            f"unexpected character '{char}' where a value should be",
            point,
            'write strings in quotes: "text", or """...""" for multi-line SQL',
        )
    return error(
        "OSR-E050", f"unexpected character '{char}'", point, *([f"expected {_expected(allowed)}"] if allowed else [])
    )


def _end_of_file(source: str, file: str, open_bracket: tuple[str, int, int] | None) -> Diagnostic:
    if open_bracket is not None:
        char, line, col = open_bracket
        closer = "}" if char == "{" else "]"
        return error(
            "OSR-E059", f"'{char}' is never closed", Span(file, line, col, line, col + 1), f"add the missing '{closer}'"
        )
    lines = source.split("\n")
    at = Span.point(file, len(lines), len(lines[-1]) + 1)
    return error("OSR-E050", "unexpected end of the file", at, "a file holds pipeline NAME { ... }")
