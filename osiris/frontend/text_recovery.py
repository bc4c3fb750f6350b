"""Every syntax error of a text-syntax file, each reported once: lark's interactive LALR parser with resynchronisation.

A clean file never comes here (``text.py`` parses it with lark's own ``parse``). A file with a syntax error is read
again by ``recover``, which feeds lark's ``InteractiveParser`` token by token and, at each error, reports one
diagnostic (``text_errors``) and resynchronises, so that one mistake gives one error:

- inside a ``{ ... }`` block (a step's config, metadata, a profile) the rest of the line is skipped (with what a
  bracket opened there holds), and parsing resumes in the state that takes the most of what follows: the state at
  the error (``query = "a" "b"`` keeps its query), at the start of the line (``delimiter = ,`` drops the entry) or
  just after an enclosing ``{``;
- a line inside a block that starts with ``step``, ``param`` or ``profile`` is a missing ``}``: the block is closed
  before it (one OSR-E059) and the item is read as written;
- anywhere else (a step's header, a parameter, between items) the item is dropped up to the next line that starts
  an item, or the pipeline's closing ``}``; a dropped step becomes a ``Placeholder`` (its id and span) so that the
  steps around it are checked as if it were there (the step above it still feeds the step below it);
- at the end of the file, open brackets are closed.

Each error is attributed to the step it is in (``Recovered.errors``); an error outside every step (a parameter, the
header, garbage between items, text after the pipeline) is attributed to none, and checking the rest is then
unsound (a parameter, or a step nobody can name, may be what the other steps use). At most ``LIMIT`` errors are
shown; the last one says how many more there are.

Relies on lark's LALR internals that its own ``on_error`` uses (``ParserState`` stacks, ``LexerState``,
``LineCounter``, the contextual lexer's ``root_lexer``); tests/test_text_recovery.py pins the behaviour.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator
from copy import copy
from typing import Any

import attrs
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import LexerState, LexerThread, LineCounter
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParserState

from osiris.frontend import textstrings
from osiris.frontend.text_errors import syntax_diagnostic
from osiris.ir.diagnostics import Diagnostic, error
from osiris.ir.span import Span

LIMIT = 50  # syntax errors shown per file
_COUNTED = 20 * LIMIT  # errors counted before giving up on a file (a binary file, YAML given as .osiris)
_LOOKAHEAD = 3  # tokens a resynchronised parser must take to be trusted
_OPENERS = {"LBRACE": "RBRACE", "LSQB": "RSQB"}
_CLOSERS = frozenset({"RBRACE", "RSQB"})
_ITEM_KEYWORDS = frozenset(
    {"KW_OML", "KW_DESCRIPTION", "KW_METADATA", "KW_SCHEDULE", "KW_PARAM", "KW_PROFILE", "KW_STEP"}
)
_STARTS_ITEM = frozenset({"KW_STEP", "KW_PARAM", "KW_PROFILE"})  # at a line start, even inside a block
_WORDS = frozenset({"NAME", "COMPONENT", "STRING"})
HARMLESS = ""  # the owner of an error that lost nothing (a missing '}' at the end of the file); falsy


@attrs.frozen
class Placeholder:
    """A step dropped by recovery (an error in its header): what is known of it, for the checks around it."""

    id: str
    id_span: Span
    span: Span


@attrs.define
class Recovered:
    """The tree of what parsed (None when nothing sound could be built), the errors shown (at most ``LIMIT``), the
    step each error broke, shown or not (a step id, ``HARMLESS``, or None: outside every step) and the placeholders
    of dropped steps."""

    tree: Tree[Token] | None
    diagnostics: list[Diagnostic]
    owners: list[str | None]
    placeholders: list[Placeholder]

    @property
    def broken(self) -> frozenset[str]:
        return frozenset(o for o in self.owners if o)

    @property
    def sound(self) -> bool:
        """May the steps the errors left alone be checked (every error is in a step, or harmless)?"""
        return self.tree is not None and None not in self.owners


def recover(source: str, file: str, lark: Lark) -> Recovered:
    """Parse ``source`` (which has a syntax error), reporting every error; never raises for bad input."""
    return _Recovery(source, file, lark).run()


@attrs.frozen
class _Mark:
    """A parser state to go back to: the stacks' first ``size`` states, valid while that prefix is unchanged."""

    size: int
    state: Any
    value: Any
    after: Token | None  # the last token fed before this point (a synthetic '}' goes at its end)
    open: tuple[tuple[Token, _Mark], ...]  # the brackets open before this point, each with the state just after it
    item: _Item | None
    opener: Token | None = None  # the bracket this mark is just after (open too, at this point)

    def brackets(self) -> list[tuple[Token, _Mark]]:
        """The brackets open at this point."""
        return [*self.open, *([(self.opener, self)] if self.opener is not None else [])]

    def valid(self, ps: ParserState[Any]) -> bool:
        return (
            len(ps.state_stack) >= self.size
            and ps.state_stack[self.size - 1] == self.state
            and (self.size < 2 or ps.value_stack[self.size - 2] is self.value)
        )


@attrs.define(eq=False)
class _Item:
    """A pipeline-body item being parsed: its keyword, the state before it, a step's id token, and the first line
    inside it that starts with step/param/profile (where a missing bracket is resynchronised)."""

    keyword: Token
    mark: _Mark
    id: Token | None = None
    inner: Token | None = None


@attrs.frozen
class _Candidate:
    """A state to resume in: a mark (None: the state at the error), closers to feed first, where to lex from."""

    mark: _Mark | None
    closers: tuple[str, ...]
    pos: int


class _Recovery:
    def __init__(self, source: str, file: str, lark: Lark) -> None:
        self.source, self.file, self.lark = source, file, lark
        self.ip = lark.parse_interactive(source)
        self.ps: ParserState[Any] = self.ip.parser_state
        self.thread: LexerThread = self.ip.lexer_thread
        assert self.thread.state is not None
        self.lexing: LexerState = self.thread.state
        self.text = self.lexing.text
        self.trial_conf = copy(self.ps.parse_conf)
        self.trial_conf.callbacks = {}  # trials build no trees (lark's own accepts() does the same)
        self.line_starts = [0, *(i + 1 for i, c in enumerate(source) if c == "\n")]
        self.body_states = _body_states(lark)
        self.open: list[tuple[Token, _Mark]] = []
        self.item: _Item | None = None
        self.line_mark: _Mark | None = None
        self.last: Token | None = None
        self.before_last: _Mark | None = None  # the state before the last token
        self.body_closed = False
        self.errors: list[Diagnostic] = []
        self.owners: list[str | None] = []
        self.more = 0
        self.placeholders: list[Placeholder] = []
        self.resumed: set[tuple[int, int, Any, tuple[str, ...]]] = set()

    # ------------------------------------------------------------------ the loop
    def run(self) -> Recovered:
        tree: Tree[Token] | None = None
        while True:
            try:
                for tok in self.thread.lex(self.ps):
                    self._feed(tok)
                tree = self.ps.feed_token(self._end_token(), True)
                break
            except UnexpectedInput as exc:
                if isinstance(exc, UnexpectedToken | UnexpectedEOF):
                    exc.interactive_parser = InteractiveParser(
                        self.ip.parser, self.ps.copy(deepcopy_values=False), copy(self.thread)
                    )
                if self._recover_stray(exc):
                    continue
                if len(self.errors) < LIMIT:
                    diag = syntax_diagnostic(exc, self.source, self.file, self.lark, self._unclosed())
                else:  # counted, not shown: the friendly message costs a parse per example
                    diag = error("OSR-E050", "syntax error")
                done, tree = self._recover(exc, diag)
                if done:
                    break
        if self.more:
            last = self.errors[-1]
            at_least = "at least " if len(self.owners) >= _COUNTED else ""
            more = f"and {at_least}{self.more} more syntax errors after this one"
            self.errors[-1] = attrs.evolve(last, notes=(*last.notes, more))
        return Recovered(tree, self.errors, self.owners, self.placeholders)

    def _report(self, diag: Diagnostic, owner: str | None) -> None:
        self.owners.append(owner)
        if len(self.errors) < LIMIT:
            self.errors.append(diag)
        else:
            self.more += 1

    def _feed(self, tok: Token) -> None:
        """Feed one token for real, keeping the marks: line starts, item starts, open brackets."""
        ps = self.ps
        line_initial = self._first_on_line(tok)
        ps.feed_token(tok)
        before = self._mark(len(ps.state_stack) - 1)
        if tok.type in _ITEM_KEYWORDS and not self.open[1:] and ps.state_stack[-2] in self.body_states:
            self.item = _Item(tok, before)
        elif self.item is not None:
            if self.item.keyword.type == "KW_STEP" and self.item.id is None and self.last is self.item.keyword:
                self.item.id = tok
            elif line_initial and tok.type in _STARTS_ITEM and self.item.inner is None:
                self.item.inner = tok
        if line_initial:
            self.line_mark = before
        self.before_last = before
        self.last = tok
        if tok.type in _OPENERS:
            self.open.append((tok, attrs.evolve(self._mark(len(ps.state_stack)), opener=tok)))
        elif tok.type in _CLOSERS and self.open:
            self.open.pop()
            if not self.open:
                self.body_closed = True

    def _mark(self, size: int) -> _Mark:
        ps = self.ps
        value = ps.value_stack[size - 2] if size >= 2 else None
        return _Mark(size, ps.state_stack[size - 1], value, self.last, tuple(self.open), self.item)

    def _restore(self, mark: _Mark) -> None:
        del self.ps.state_stack[mark.size :]
        del self.ps.value_stack[mark.size - 1 :]
        self.open = mark.brackets()
        self.last = mark.after
        self.item = mark.item

    def _resume(self, cand: _Candidate) -> bool:
        """Go to a candidate's state for real; False when the parser would be back where it was (no progress)."""
        size = cand.mark.size if cand.mark is not None else len(self.ps.state_stack)
        key = (cand.pos, size, self.ps.state_stack[size - 1], cand.closers)
        if key in self.resumed:
            return False
        self.resumed.add(key)
        if cand.mark is not None:
            self._restore(cand.mark)
        for closer in cand.closers:
            self._feed(self._synthetic(closer))
        self.lexing.line_ctr = self._counter(cand.pos)
        self.lexing.last_token = self.last
        return True

    # ------------------------------------------------------------------ recovery
    def _recover(self, exc: UnexpectedInput, diag: Diagnostic) -> tuple[bool, Tree[Token] | None]:
        """Report ``diag`` and resynchronise: (stop, the tree when the parse is over)."""
        if len(self.owners) >= _COUNTED:
            self._report(diag, None)
            return True, None
        if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
            return True, self._at_end(diag)
        if not self.open or self.body_closed:  # before the pipeline's '{' or after its '}': nothing to resync to
            self._report(diag, None)
            return True, None
        tok: Token | None = None
        pos: int
        if isinstance(exc, UnexpectedCharacters):
            pos = exc.pos_in_stream or 0
        else:
            assert isinstance(exc, UnexpectedToken)
            tok = exc.token
            pos = tok.start_pos if tok.start_pos is not None else self.lexing.line_ctr.char_pos
        item, inside = self.item, self.open[1:]
        if item is not None and inside and inside[0][0].type == "LBRACE":
            cand = self._in_block(pos)
            if cand is not None and self._resume(cand):
                self._report(diag, self._owner(item))
                return False, None
        if self._first_on_line_at(pos) and not inside:  # garbage between items
            owner, cand = self._between_items(pos, tok)
        else:
            owner, cand = self._drop_item(pos)
        self._report(diag, owner)
        if cand is None or not self._resume(cand):
            return True, None
        return False, None

    def _stray_key(self, exc: UnexpectedInput) -> Token | None:
        """The token to blame when the parser read a stray value as the next entry's key: in ``q = "a" "b" }`` the
        error is the '}' where '=' should be, the mistake the "b" written after a value on the same line."""
        key, mark = self.last, self.before_last
        if not isinstance(exc, UnexpectedToken) or exc.token.type in ("COLON", "$END") or key is None:
            return None
        if mark is None or mark.after is None or mark.after.type in ("COMMA", "LBRACE") or self._first_on_line(key):
            return None
        inside = self.open[1:]
        if self.item is None or not inside or inside[0][0].type != "LBRACE" or "EQUAL" not in exc.expected:
            return None
        return key if mark.valid(self.ps) and key.start_pos is not None else None

    def _recover_stray(self, exc: UnexpectedInput) -> bool:
        """Report a stray token (``_stray_key``) and resume before it, after the rest of its line; False when the
        error is not that, or nothing resumes there (the usual recovery takes it)."""
        key, mark = self._stray_key(exc), self.before_last
        if key is None or mark is None or key.start_pos is None:
            return False
        cand = _Candidate(mark, (), self._line_end(key.start_pos))
        if self._trial(cand) < 1 or not self._resume(cand):
            return False
        shown = f'"{_short(str(key)[1:-1])}"' if key.type == "STRING" else f"'{_short(str(key))}'"
        diag = error(
            "OSR-E050",
            f"unexpected {shown} after a value",
            self._tspan(key),
            "entries are separated by ',' or a line break; write text as one string",
        )
        self._report(diag, self._owner(self.item))
        return True

    def _owner(self, item: _Item | None) -> str | None:
        if item is None or item.keyword.type != "KW_STEP" or item.id is None:
            return None
        return self._name(item.id)

    def _in_block(self, pos: int) -> _Candidate | None:
        """Resume inside the block: a missing '}' before a step/param/profile line, else skip the rest of the line."""
        mark, last = self.line_mark, self.last
        if (
            last is not None
            and last.type in _STARTS_ITEM
            and self._first_on_line(last)
            and mark is not None
            and mark.item is self.item
            and mark.valid(self.ps)
            and len(mark.open) > 1
            and last.start_pos is not None
        ):
            closers = tuple(_OPENERS[t.type] for t, _ in reversed(mark.open[1:]))
            missing = _Candidate(mark, closers, last.start_pos)
            if self._trial(missing) >= _LOOKAHEAD:
                return missing
        sync = self._line_end(pos)
        candidates = [_Candidate(None, (), sync)]
        if mark is not None and mark.item is self.item and len(mark.open) > 1 and mark.valid(self.ps):
            candidates.append(_Candidate(mark, (), sync))
        for _tok, after in reversed(self.open[1:]):
            if after.valid(self.ps):
                candidates.append(_Candidate(after, (), sync))
        best, taken = None, 0
        for cand in candidates:
            n = self._trial(cand)
            if n > taken:
                best, taken = cand, n
            if n >= _LOOKAHEAD:
                break
        return best

    def _drop_item(self, pos: int) -> tuple[str | None, _Candidate | None]:
        """Drop the current item (an error in its header, or a block that could not be resumed)."""
        item = self.item
        if item is None:
            return self._between_items(pos, None)
        if not item.mark.valid(self.ps):
            return self._owner(item), None
        depth = len(self.open) - 1
        start = pos
        if item.inner is not None and item.inner.start_pos is not None and item.inner.start_pos < pos:
            start, depth = item.inner.start_pos, 0
        cand, end = self._sync(item.mark, start, depth, True)
        owner = self._owner(item)
        if owner is not None and item.id is not None and item.keyword.start_pos is not None:
            self.placeholders.append(Placeholder(owner, self._tspan(item.id), self._span(item.keyword.start_pos, end)))
        return owner, cand

    def _between_items(self, pos: int, tok: Token | None) -> tuple[str | None, _Candidate | None]:
        """Skip an unknown item up to the next item; a `WORD ID:` line is a step with a mistyped keyword."""
        cand, end = self._sync(None, pos, 0, False)
        words = list(_take(self._root_tokens(pos), 3))
        if (
            tok is not None
            and len(words) == 3
            and words[0].type in _WORDS - {"STRING"}
            and (words[1].type in _WORDS or words[1].type.startswith("KW_"))
            and words[2].type == "COLON"
        ):
            name = self._name(words[1])
            self.placeholders.append(Placeholder(name, self._tspan(words[1]), self._span(pos, end)))
            return name, cand
        return None, cand

    def _at_end(self, diag: Diagnostic) -> Tree[Token] | None:
        """The file ended inside something: close what is open, from the innermost state that can be closed."""
        nothing_lost = len(self.open) == 1 and self.item is not None and not self.body_closed
        item = self.item
        candidates: list[_Mark | None] = [None]
        if self.line_mark is not None and self.line_mark.item is item:
            candidates.append(self.line_mark)
        candidates += [after for _tok, after in reversed(self.open[1:])]
        if item is not None:
            candidates.append(item.mark)
        for mark in candidates:
            if mark is not None and not mark.valid(self.ps):
                continue
            opened = self.open if mark is None else mark.brackets()
            closers = tuple(_OPENERS[t.type] for t, _ in reversed(opened))
            if self._trial(_Candidate(mark, closers, len(self.source)), end=True) < 0:
                continue
            dropped = mark is not None and item is not None and mark is item.mark
            owner = HARMLESS if nothing_lost and mark is None else self._owner(item)
            if dropped and owner and item is not None and item.id is not None and item.keyword.start_pos is not None:
                end = self.last.end_pos if self.last is not None and self.last.end_pos is not None else len(self.source)
                self.placeholders.append(
                    Placeholder(owner, self._tspan(item.id), self._span(item.keyword.start_pos, end))
                )
            self._report(diag, owner)
            if mark is not None:
                self._restore(mark)
            for closer in closers:
                self._feed(self._synthetic(closer))
            try:
                tree: Tree[Token] = self.ps.feed_token(self._end_token(), True)
            except UnexpectedInput:  # the trial said it would not happen
                return None
            return tree
        self._report(diag, None)
        return None

    # ------------------------------------------------------------------ resynchronisation
    def _sync(self, mark: _Mark | None, start: int, depth: int, first: bool) -> tuple[_Candidate | None, int]:
        """The first point from ``start`` where the state ``mark`` (None: the current one) resumes: a line that
        starts an item, or a '}' closing what is open ``depth`` brackets up; with the end of what is skipped."""
        bal, end = depth, start
        for tok in self._root_tokens(start):
            if first or tok.start_pos != start:
                keyword = self._first_on_line(tok) and (
                    tok.type in _STARTS_ITEM or (bal == 0 and tok.type in _ITEM_KEYWORDS)
                )
                if keyword or (tok.type in _CLOSERS and bal == 0):
                    cand = _Candidate(mark, (), _start(tok))
                    if self._trial(cand) >= (1 if keyword else _LOOKAHEAD):
                        return cand, end
            if tok.type in _OPENERS:
                bal += 1
            elif tok.type in _CLOSERS and bal > 0:
                bal -= 1
            end = _end(tok)
        return _Candidate(mark, (), len(self.source)), end

    def _line_end(self, pos: int) -> int:
        """Where to resume after skipping the rest of the error's line (and what brackets opened there hold)."""
        line = self._line_of(pos)
        bal = 0
        for tok in self._root_tokens(pos):
            if tok.type in _CLOSERS and bal == 0:
                return _start(tok)
            if (tok.line or 0) > line and self._first_on_line(tok) and (bal == 0 or tok.type in _STARTS_ITEM):
                return _start(tok)
            if tok.type in _OPENERS:
                bal += 1
            elif tok.type in _CLOSERS:
                bal -= 1
        return len(self.source)

    def _trial(self, cand: _Candidate, end: bool = False) -> int:
        """How many tokens from ``cand.pos`` the candidate state takes (up to the lookahead; all of the rest counts
        as the lookahead); -1 when it cannot even take its closers (``end``: and the end of the file)."""
        ps = self.ps
        size = cand.mark.size if cand.mark is not None else len(ps.state_stack)
        trial: ParserState[Any] = ParserState(
            self.trial_conf, self.thread, ps.state_stack[:size], ps.value_stack[: size - 1]
        )
        try:
            for closer in cand.closers:
                trial.feed_token(Token(closer, ""))
            if end:
                trial.feed_token(Token("$END", ""), True)
                return _LOOKAHEAD
        except UnexpectedInput:
            return -1
        thread = LexerThread(self.thread.lexer, LexerState(self.text, self._counter(cand.pos), self.last))
        taken = 0
        try:
            for tok in thread.lex(trial):
                trial.feed_token(tok)
                taken += 1
                if taken >= _LOOKAHEAD:
                    return taken
        except UnexpectedInput:
            return taken
        return _LOOKAHEAD

    def _root_tokens(self, pos: int) -> Iterator[Token]:
        """Tokens from ``pos`` with every terminal of the grammar (whatever the parser state); characters that
        start none are skipped (an unterminated string up to the end of its line)."""
        root = self.thread.lexer.root_lexer  # type: ignore[attr-defined]
        while pos < len(self.source):
            try:
                yield from root.lex(LexerState(self.text, self._counter(pos)), None)
                return
            except UnexpectedCharacters as exc:
                at = exc.pos_in_stream or 0
                pos = at + 1
                if self.source[at] == '"':  # unterminated: it ends with its line, before the
                    newline = self.source.find("\n", pos)  # brackets and comma that end the line (`q = "abc }`)
                    rest = self.source[pos : newline if newline >= 0 else len(self.source)]
                    pos += len(rest.rstrip(" \t}],"))

    # ------------------------------------------------------------------ positions
    def _counter(self, pos: int) -> LineCounter:
        counter = LineCounter("\n")
        line = bisect.bisect_right(self.line_starts, pos)
        counter.char_pos, counter.line, counter.line_start_pos = pos, line, self.line_starts[line - 1]
        counter.column = pos - counter.line_start_pos + 1
        return counter

    def _line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def _first_on_line_at(self, pos: int) -> bool:
        start = self.line_starts[self._line_of(pos) - 1]
        return not self.source[start:pos].strip()

    def _first_on_line(self, tok: Token) -> bool:
        if tok.start_pos is None:
            return False
        return self._first_on_line_at(tok.start_pos)

    def _span(self, start: int, end: int) -> Span:
        a, b = self._counter(start), self._counter(max(start, end))
        return Span(self.file, a.line, a.column, b.line, b.column)

    def _tspan(self, tok: Token) -> Span:
        return Span(self.file, tok.line or 1, tok.column or 1, tok.end_line or 1, tok.end_column or 1)

    def _name(self, tok: Token) -> str:
        if tok.type == "STRING" and textstrings.find_bad_escape(str(tok)) is None:
            return textstrings.decode(str(tok))
        return str(tok)

    def _synthetic(self, closer: str) -> Token:
        """A closing bracket the file lacks, placed at the end of the last real token."""
        last = self.last
        pos = last.end_pos if last is not None and last.end_pos is not None else len(self.source)
        c = self._counter(pos)
        value = "}" if closer == "RBRACE" else "]"
        return Token(closer, value, pos, c.line, c.column, c.line, c.column, pos)

    def _end_token(self) -> Token:
        c = self._counter(len(self.source))
        return Token("$END", "", len(self.source), c.line, c.column, c.line, c.column, len(self.source))

    def _unclosed(self) -> tuple[str, int, int] | None:
        if not self.open:
            return None
        tok = self.open[-1][0]
        return str(tok), tok.line or 1, tok.column or 1


def _start(tok: Token) -> int:
    assert tok.start_pos is not None  # tokens from the lexer have positions
    return tok.start_pos


def _end(tok: Token) -> int:
    assert tok.end_pos is not None
    return tok.end_pos


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _take(tokens: Iterator[Token], n: int) -> Iterator[Token]:
    for i, tok in enumerate(tokens):
        if i >= n:
            return
        yield tok


@functools.cache
def _body_states(lark: Lark) -> frozenset[Any]:
    """The parser states in which an item of the pipeline body starts (after '{' and after an item)."""
    states = set()
    for text in ("pipeline p {", 'pipeline p { oml "x"'):
        ip = lark.parse_interactive(text)
        ip.exhaust_lexer()
        ip.feed_token(Token("KW_STEP", "step"))
        states.add(ip.parser_state.state_stack[-2])
    return frozenset(states)
