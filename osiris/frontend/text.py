"""The text syntax frontend: ``grammar osiris.lark`` (LALR, positions on) lowered to the same IR as OML.

``parse_text(text, file)`` never raises for bad input: each syntax error is one diagnostic with the position of the
offending token (friendly messages in ``text_errors``), and the parser resynchronises after it to find the others
(``text_recovery``); semantic checks mirror the OML frontend's.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError
from lark.tree import Meta

from osiris.frontend import textstrings
from osiris.frontend.numbers import max_digits, parse_decimal
from osiris.frontend.oml import KEBAB_RE, MODES, OML_VERSION
from osiris.frontend.oml_dag import StepRefs, check_dag
from osiris.frontend.oml_values import PARAM_NAME_RE
from osiris.frontend.text_recovery import Placeholder, recover
from osiris.frontend.text_values import lower_refs
from osiris.frontend.yaml_nodes import MAX_DEPTH, Doc
from osiris.ir import Diagnostic, Pipeline
from osiris.ir.diagnostics import did_you_mean, error, has_errors, warning
from osiris.ir.nodes import Bool, Entry, Float, Int, List, Map, Null, Param, Profile, Step, Str
from osiris.ir.span import Span


@functools.cache
def parser() -> Lark:
    """The LALR parser, built once from the grammar shipped as package data."""
    grammar = resources.files("osiris.frontend").joinpath("osiris.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


class _Item:
    """A pipeline-body item on its way up: its keyword, value and span."""

    def __init__(self, kind: str, value: Any, span: Span) -> None:
        self.kind, self.value, self.span = kind, value, span


@v_args(meta=True)
class _Lower(Transformer[Token, Any]):
    """One method per grammar rule; each returns IR (or an ``_Item`` for pipeline-body items)."""

    def __init__(self, source: str, file: str, placeholders: Iterable[Placeholder] = ()) -> None:
        super().__init__()
        self.source = source
        self.file = file
        self.placeholders = tuple(placeholders)  # steps dropped by syntax recovery, kept for the checks around them
        self.diagnostics: list[Diagnostic] = []
        self.cycles: set[str] = set()  # ids of the steps on a dependency cycle

    def report(self, code: str, message: str, span: Span | None, notes: tuple[str, ...] = ()) -> None:
        self.diagnostics.append(error(code, message, span, *notes))

    def warn(self, code: str, message: str, span: Span | None, notes: tuple[str, ...] = ()) -> None:
        self.diagnostics.append(warning(code, message, span, *notes))

    # ------------------------------------------------------------------ helpers
    def span(self, meta: Meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def tspan(self, tok: Token) -> Span:
        return Span(self.file, tok.line or 1, tok.column or 1, tok.end_line or 1, tok.end_column or 1)

    def _text(self, tok: Token) -> str:
        """A name or key token as text: quoted strings decoded, bare words as written."""
        if tok.type == "STRING":
            return self._decode(tok)
        return str(tok)

    def _decode(self, tok: Token) -> str:
        bad = textstrings.find_bad_escape(str(tok))
        if bad is not None:
            offset, seq = bad
            before = str(tok)[:offset]
            line = (tok.line or 1) + before.count("\n")
            col = offset - before.rfind("\n") if "\n" in before else (tok.column or 1) + offset
            at = Span(self.file, line, col, line, col + max(len(seq), 1))
            self.report(
                "OSR-E052",
                f"invalid escape sequence '{seq}' in a string",
                at,
                ('valid escapes: \\\\ \\" \\n \\t \\r \\uXXXX \\UXXXXXXXX',),
            )
            return str(tok)
        return textstrings.decode(str(tok))

    # ------------------------------------------------------------------ document
    def start(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def pipeline(self, meta: Meta, children: list[Any]) -> Pipeline:
        _kw, (name, name_span), *items = children
        seen: dict[str, Span] = {}
        fields: dict[str, Any] = {}
        params: list[Param] = []
        profiles: list[Profile] = []
        steps: list[Step] = []
        for item in items:
            if item.kind in ("oml", "description", "metadata", "schedule"):
                if item.kind in seen:
                    first = seen[item.kind]
                    self.report("OSR-E054", f"'{item.kind}' is given twice", item.span, (f"first given at {first}",))
                    continue
                seen[item.kind] = item.span
                fields[item.kind] = item.value
            elif item.kind == "param":
                self._unique(item.value.name, "parameter", params, item.span)
                params.append(item.value)
            elif item.kind == "profile":
                self._unique(item.value.name, "profile", profiles, item.span)
                profiles.append(item.value)
            else:
                steps.append(item.value)
        if self.placeholders:
            steps = sorted([*steps, *map(_placeholder_step, self.placeholders)], key=_position)
        if "oml" not in fields:
            self.report(
                "OSR-E058",
                "the pipeline has no 'oml' version",
                name_span,
                (f'add `oml "{OML_VERSION}"` to the pipeline body',),
            )
        elif fields["oml"] != OML_VERSION:
            self.warn(
                "OSR-W052",
                f"OML version '{fields['oml']}' is not supported; reading the file as {OML_VERSION}",
                seen["oml"],
                (f'write oml "{OML_VERSION}"',),
            )
        if not steps:
            self.report(
                "OSR-E058",
                "the pipeline has no steps",
                name_span,
                ("add at least one `step ID: COMPONENT MODE { ... }`",),
            )
        if not name.strip():
            self.report("OSR-E058", "the pipeline name must not be empty", name_span, ())
        elif not KEBAB_RE.match(name):
            kebab = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            self.warn(
                "OSR-W050",
                f"pipeline name '{name}' is not lowercase-kebab",
                name_span,
                (f"the convention is lowercase words joined by '-', e.g. '{kebab}'",) if kebab else (),
            )
        self._check_dag(steps)
        return Pipeline(
            name=name,
            oml_version=fields.get("oml", ""),
            steps=tuple(steps),
            description=fields.get("description"),
            metadata=fields.get("metadata"),
            schedule=fields.get("schedule"),
            params=tuple(params),
            profiles=tuple(profiles),
            span=self.span(meta),
            name_span=name_span,
        )

    def _unique(self, name: str, what: str, existing: Iterable[Param | Profile], span: Span) -> None:
        for other in existing:
            if other.name == name:
                self.report(
                    "OSR-E054", f"{what} '{name}' is declared twice", span, (f"first declared at {other.span}",)
                )

    def _check_dag(self, steps: list[Step]) -> None:
        """The OML frontend's DAG rules (duplicate ids, unknown/self needs, cycles), shared so both report alike."""
        doc = Doc(self.source, self.file)
        self.cycles |= check_dag(
            doc,
            [
                StepRefs(
                    s.id,
                    s.id_span or Span.point(self.file, 1, 1),
                    s.mode or None,
                    s.needs,
                    tuple(sp or Span.point(self.file, 1, 1) for sp in s.needs_spans),
                )
                for s in steps
            ],
        )
        self.diagnostics += doc.diagnostics

    def _check_param_name(self, name: str, span: Span) -> None:
        if not PARAM_NAME_RE.match(name):
            self.report(
                "OSR-E064",
                f"invalid parameter name '{name}'",
                span,
                (
                    "a parameter name is a letter or _ followed by letters, digits and _ (it is used as "
                    "${params.NAME} and OSIRIS_PARAM_NAME)",
                ),
            )

    # ------------------------------------------------------------------ pipeline items
    def oml(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("oml", children[1].value, self.span(meta))

    def description(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("description", children[1].value, self.span(meta))

    def metadata(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("metadata", children[1], self.span(meta))

    def schedule(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("schedule", children[1], self.span(meta))

    def param(self, meta: Meta, children: list[Any]) -> _Item:
        _kw, (name, name_span), default, _dkw, doc = children
        self._check_param_name(name, name_span)
        span = self.span(meta)
        if default is not None:
            default = lower_refs(default, self.report)
        description = doc.value if doc is not None else None
        return _Item("param", Param(name, default, description, span=span), span)

    def profile(self, meta: Meta, children: list[Any]) -> _Item:
        _kw, (name, _span), params = children
        for entry in params.entries:
            self._check_param_name(entry.key, entry.key_span)
        span = self.span(meta)
        lowered = lower_refs(params, self.report)
        assert isinstance(lowered, Map)
        return _Item("profile", Profile(name, lowered, span=span), span)

    def step(self, meta: Meta, children: list[Any]) -> _Item:
        _kw, (step_id, id_span), (component, component_span), mode_part, needs_part, config = children
        span = self.span(meta)
        if not step_id.strip():
            self.report("OSR-E058", "a step id must not be empty", id_span)
        if not component.strip():
            self.report("OSR-E058", "a component must not be empty", component_span)
        if mode_part is None:
            mode, mode_span = "", component_span
            if component in MODES:
                self.report(
                    "OSR-E063",
                    f"step '{step_id}' has no component",
                    component_span,
                    (f"write `step {step_id}: COMPONENT {component}`, e.g. `mysql.extractor {component}`",),
                )
            else:
                self.report(
                    "OSR-E055",
                    f"step '{step_id}' has no mode",
                    component_span,
                    ("add one of read, write, transform after the component",),
                )
        else:
            mode, mode_span = mode_part
            if mode not in MODES:
                hint = did_you_mean(mode.lower(), MODES) or f"mode is one of {', '.join(MODES)}"
                self.report("OSR-E055", f"unknown mode '{mode}'", mode_span, (hint,))
        needs, needs_spans = (None, ()) if needs_part is None else needs_part
        lowered = lower_refs(config, self.report) if config is not None else Map()
        assert isinstance(lowered, Map)
        step = Step(
            id=step_id,
            component=component,
            mode=mode,
            config=lowered,
            needs=needs,
            span=span,
            id_span=id_span,
            component_span=component_span,
            mode_span=mode_span,
            needs_spans=needs_spans,
        )
        return _Item("step", step, span)

    def component(self, meta: Meta, children: list[Token]) -> tuple[str, Span]:
        return self._text(children[0]), self.span(meta)

    def mode(self, meta: Meta, children: list[Token]) -> tuple[str, Span]:
        return self._text(children[0]), self.span(meta)

    def needs(self, meta: Meta, children: list[Any]) -> tuple[tuple[str, ...], tuple[Span, ...]]:
        ids: list[str] = []
        spans: list[Span] = []
        for need, span in (c for c in children[1:] if c is not None):
            if need in ids:
                self.warn(
                    "OSR-W051",
                    f"'{need}' is listed twice in needs",
                    span,
                    (f"first listed at {spans[ids.index(need)]}",),
                )
            else:
                ids.append(need)
                spans.append(span)
        return tuple(ids), tuple(spans)

    def name(self, meta: Meta, children: list[Token]) -> tuple[str, Span]:
        return self._text(children[0]), self.span(meta)

    # ------------------------------------------------------------------ values (references are lowered by context)
    def map(self, meta: Meta, children: list[Any]) -> Map:
        entries: list[Entry] = []
        seen: dict[str, Entry] = {}
        for entry in children:
            if entry is None:
                continue
            if entry.key in seen:
                self.report(
                    "OSR-E053",
                    f"duplicate key '{entry.key}'",
                    entry.key_span,
                    (f"first given at {seen[entry.key].key_span}",),
                )
                continue
            seen[entry.key] = entry
            entries.append(entry)
        return Map(tuple(entries), span=self.span(meta))

    def entry(self, meta: Meta, children: list[Any]) -> Entry:
        (key, key_span), value = children
        return Entry(key, value, key_span=key_span)

    def key(self, meta: Meta, children: list[Token]) -> tuple[str, Span]:
        return self._text(children[0]), self.span(meta)

    def seq(self, meta: Meta, children: list[Any]) -> List:
        return List(tuple(c for c in children if c is not None), span=self.span(meta))

    def string(self, meta: Meta, children: list[Token]) -> Str:
        return Str(self._decode(children[0]), span=self.span(meta))

    def integer(self, meta: Meta, children: list[Token]) -> Int | Null:
        value = parse_decimal(str(children[0]))
        if value is None:
            self.report(
                "OSR-E065",
                f"the integer '{_short(children[0])}' is too large (more than {max_digits()} decimal digits)",
                self.span(meta),
                ("plans are JSON, and Python writes integers of at most that many digits; quote it for the text",),
            )
            return Null(span=self.span(meta))
        return Int(value, span=self.span(meta))

    def decimal(self, meta: Meta, children: list[Token]) -> Float | Null:
        value = float(children[0])
        if not math.isfinite(value):
            self.report(
                "OSR-E065",
                f"'{_short(children[0])}' is not a finite number",
                self.span(meta),
                ("plans are JSON, which has no infinity or NaN; quote it if you mean the text",),
            )
            return Null(span=self.span(meta))
        return Float(value, span=self.span(meta))

    def true(self, meta: Meta, children: list[Token]) -> Bool:
        return Bool(True, span=self.span(meta))

    def false(self, meta: Meta, children: list[Token]) -> Bool:
        return Bool(False, span=self.span(meta))

    def null(self, meta: Meta, children: list[Token]) -> Null:
        return Null(span=self.span(meta))

    def connref(self, meta: Meta, children: list[Token]) -> Str:
        """A bare ``@family.alias``: its text, parsed where references are (``lower_refs``)."""
        return Str(str(children[0]), span=self.span(meta))

    def paramref(self, meta: Meta, children: list[Token]) -> Str:
        """A bare ``${params.x}``: its text, parsed where references are (``lower_refs``)."""
        return Str(str(children[0]), span=self.span(meta))


def parse_text(text: str, file: str) -> tuple[Pipeline | None, list[Diagnostic]]:
    """Parse and lower a text-syntax pipeline; returns the IR (None on any error) and diagnostics."""
    pipeline, diagnostics, _, _ = parse_text_partial(text, file)
    return (None if has_errors(diagnostics) else pipeline), diagnostics


def parse_text_partial(
    text: str, file: str
) -> tuple[Pipeline | None, list[Diagnostic], frozenset[str], frozenset[Diagnostic]]:
    """Parse and lower as far as it goes: the IR even with errors in steps, the diagnostics, the steps broken beyond
    their own span (on a dependency cycle, or holding a syntax error) and the errors already attributed to steps
    (``osiris.frontend.partial_pipeline`` uses both).

    With syntax errors the IR is what parsed around them (``text_recovery``), or None when an error is outside
    every step: the parameters, the header or an unknown item may be what the other steps use, so nothing more is
    checked then, and no semantic check runs on a tree with holes outside the steps."""
    source = text.replace("\r\n", "\n").replace("\r", "\n")  # CRLF and CR-only line ends count as one break
    syntax: list[Diagnostic] = []
    broken: set[str] = set()
    placeholders: list[Placeholder] = []
    try:
        tree: Tree[Token] | None = parser().parse(source)
    except UnexpectedInput:
        recovered = recover(source, file, parser())
        syntax = recovered.diagnostics
        if not recovered.sound:
            return None, syntax, frozenset(), frozenset()
        tree, placeholders = recovered.tree, recovered.placeholders
        broken = set(recovered.broken)
    assert tree is not None
    deep = _too_deep(tree)
    if deep is not None:
        too_deep = error(
            "OSR-E066",
            f"a value is nested more than {MAX_DEPTH} levels deep",
            Span(file, deep.line, deep.column, deep.line, deep.column + 1),
            "pipelines are small trees; write the value flatter",
        )
        return None, [*syntax, too_deep], frozenset(), frozenset()
    lower = _Lower(source, file, placeholders)
    try:
        pipeline = lower.transform(tree)
    except VisitError as exc:  # a bug in a transformer method, not bad input
        raise exc.orig_exc from None
    diagnostics = list(dict.fromkeys([*syntax, *lower.diagnostics]))
    return pipeline, diagnostics, frozenset(lower.cycles | broken), frozenset(syntax)


def _placeholder_step(p: Placeholder) -> Step:
    """A step dropped by syntax recovery: its id and place, nothing else (it is broken, so no pass reads more)."""
    return Step(id=p.id, component="", mode="", config=Map(span=p.span), needs=(), span=p.span, id_span=p.id_span)


def _position(step: Step) -> tuple[int, int]:
    return (step.span.line, step.span.col) if step.span is not None else (0, 0)


def _too_deep(tree: Tree[Token]) -> Meta | None:
    """The position of the first value (list or map) nested more than MAX_DEPTH levels deep, found without
    recursion: the transformer recurses once per level, so a deep file must be refused before it runs."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in ("seq", "map"):
            depth += 1
            if depth > MAX_DEPTH:
                return node.meta
        stack += [(child, depth) for child in node.children if isinstance(child, Tree)]
    return None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
