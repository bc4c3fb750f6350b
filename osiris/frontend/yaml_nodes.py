"""YAML with positions: PyYAML's composer nodes, their spans, and plain (reference-free) lowering to IR values.

``compose(text, file)`` reads exactly one document and turns every YAML problem (syntax, several documents,
empty input, nesting too deep) into a diagnostic. ``Doc`` carries the file, the diagnostics list and the one span
helper of the OML frontend: every span is made here from node marks, never at the place a problem is found.

Scalars keep YAML 1.1 meaning (PyYAML's safe loader, which Osiris itself uses), so a file means the same to both.
The YAML 1.1 surprises (``yes``/``no``/``on``/``off`` as booleans, ``0755`` as octal, ``1:20`` as 80) get a
warning (OSR-W012) naming the value read. Mapping keys are always their source text: ``on:`` is the key ``"on"``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from osiris.frontend.numbers import decimal_fits, int_fits, max_digits
from osiris.ir import nodes as ir
from osiris.ir.diagnostics import Diagnostic, error, warning
from osiris.ir.span import Span

TAG = "tag:yaml.org,2002:"
MAX_DEPTH = 100
MAX_NODES = 200_000
_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_PLAIN_BOOL = {"true", "false"}
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_LOG10_60 = math.log10(60)


class TooComplex(Exception):
    """Raised inside lowering when a document is recursive, too deep or too large; reported once as OSR-E017."""

    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.node = node


class Doc:
    """One OML file being lowered: the span helper plus the diagnostics found so far."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.cycles: set[str] = set()  # ids of the steps on a dependency cycle (reported once, at one of them)
        self._starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        self._visited = 0

    # ---------------------------------------------------------------- spans

    def position(self, index: int) -> tuple[int, int]:
        """1-based line and column of a character index (line breaks as YAML counts them)."""
        line = bisect.bisect_right(self._starts, index) - 1
        return line + 1, index - self._starts[line] + 1

    def span(self, node: Node) -> Span:
        """The span of a node, from its start mark to its end mark."""
        start, end = node.start_mark, node.end_mark
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def start(self, node: Node) -> Span:
        """A one-character span at the start of a node (for 'missing' problems)."""
        return Span.point(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def at_index(self, index: int, length: int = 1) -> Span:
        line, col = self.position(index)
        end_line, end_col = self.position(index + max(length, 1))
        if end_line != line:  # the range crosses a line break: stop at the end of the first line
            end_line, end_col = line, col + 1
        return Span(self.file, line, col, end_line, end_col)

    def inner(self, node: Node, value: str, start: int, end: int) -> Span:
        """The span of ``value[start:end]`` inside a scalar, found in the node's source text; the node's span when
        escapes or folding make the text differ from the source."""
        token = value[start:end]
        nth = _count(value[:start], token)
        raw = self.text[node.start_mark.index : node.end_mark.index]
        pos = -1
        for _ in range(nth + 1):
            pos = raw.find(token, pos + 1)
            if pos < 0:
                return self.span(node)
        return self.at_index(node.start_mark.index + pos, len(token))

    # ---------------------------------------------------------------- reporting

    def error(self, code: str, message: str, span: Span | None, *notes: str) -> None:
        self.diagnostics.append(error(code, message, span, *notes))

    def warning(self, code: str, message: str, span: Span | None, *notes: str) -> None:
        self.diagnostics.append(warning(code, message, span, *notes))

    # ---------------------------------------------------------------- walking

    def visit(self, node: Node, depth: int) -> None:
        """Count a node against the size and depth limits (alias bombs, runaway nesting)."""
        self._visited += 1
        if self._visited > MAX_NODES:
            raise TooComplex(f"the document expands to more than {MAX_NODES} values (aliases?)", node)
        if depth > MAX_DEPTH:
            raise TooComplex(f"the document is nested more than {MAX_DEPTH} levels deep", node)

    def pairs(self, node: MappingNode) -> Iterator[tuple[str, Node, Node]]:
        """The ``(key, key_node, value_node)`` pairs of a mapping, merge keys (``<<``) expanded, duplicates and
        non-string keys reported (and skipped)."""
        seen: dict[str, Node] = {}
        merged: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == TAG + "merge":
                merged += self._merge_sources(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.error("OSR-E016", "mapping keys must be strings", self.span(key_node))
                continue
            key = key_node.value
            if key in seen:
                first = seen[key]
                self.error(
                    "OSR-E014",
                    f"duplicate key '{key}'",
                    self.span(key_node),
                    f"'{key}' is first defined at {self.start(first)}",
                )
                continue
            seen[key] = key_node
            yield key, key_node, value_node
        for key, key_node, value_node in merged:
            if key not in seen:
                seen[key] = key_node
                yield key, key_node, value_node

    def _merge_sources(self, value: Node) -> list[tuple[str, Node, Node]]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        out: list[tuple[str, Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                self.error("OSR-E015", "a merge key ('<<') needs a mapping or a list of mappings", self.span(source))
                continue
            for key_node, value_node in source.value:
                if isinstance(key_node, ScalarNode) and all(key_node.value != k for k, _, _ in out):
                    out.append((key_node.value, key_node, value_node))
        return out

    # ---------------------------------------------------------------- plain values

    def scalar(self, node: ScalarNode) -> ir.Value:
        """A scalar as Str/Int/Float/Bool/Null by its resolved YAML 1.1 tag."""
        span = self.span(node)
        tag = node.tag
        if tag in (TAG + "str", TAG + "timestamp"):  # timestamps stay the text written (the IR has no date type)
            return ir.Str(node.value, span)
        if tag not in (TAG + "null", TAG + "bool", TAG + "int", TAG + "float"):
            self.error(
                "OSR-E015",
                f"unsupported YAML tag '{tag}'",
                span,
                "OML values are strings, numbers, booleans, null, lists and mappings",
            )
            return ir.Null(span)
        digits = node.value.lstrip("+-").replace("_", "")
        if tag == TAG + "int" and digits.isdigit() and digits[0] != "0" and not decimal_fits(digits):
            return self._too_large(node, span)  # int() would refuse it (a leading 0 is octal, read without limit)
        if tag == TAG + "int" and node.value.count(":") * _LOG10_60 > max_digits():
            return self._too_large(node, span)  # 1:59:59...: at least 60**groups; computing it is quadratic
        try:
            value = SafeConstructor().construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            self.error("OSR-E015", f"cannot read the value '{_short(node.value)}': {_reason(exc)}", span)
            return ir.Null(span)
        if value is None:
            return ir.Null(span)
        if isinstance(value, bool):
            self._check_ambiguous(node, value)
            return ir.Bool(value, span)
        if isinstance(value, int):
            if not int_fits(value):  # 0x..., 0b..., 1:2:3... of any length read without the digit limit
                return self._too_large(node, span)
            self._check_ambiguous(node, value)
            return ir.Int(value, span)
        if isinstance(value, float) and not math.isfinite(value):
            self.error(
                "OSR-E015",
                f"'{_short(node.value)}' is not a finite number",
                span,
                "plans are JSON, which has no infinity or NaN; quote it if you mean the text",
            )
            return ir.Null(span)
        self._check_ambiguous(node, value)
        return ir.Float(float(value), span)

    def _too_large(self, node: ScalarNode, span: Span) -> ir.Value:
        self.error(
            "OSR-E015",
            f"the integer '{_short(node.value)}' is too large (more than {max_digits()} decimal digits)",
            span,
            "plans are JSON, and Python writes integers of at most that many digits; quote it if you mean the text",
        )
        return ir.Null(span)

    def _check_ambiguous(self, node: ScalarNode, value: object) -> None:
        if node.style:  # plain scalars: None from PyYAML's composer, "" from libyaml's
            return
        text = node.value
        if isinstance(value, bool):
            surprising = text.lower() not in _PLAIN_BOOL
        else:
            surprising = ":" in text or bool(_OCTAL.match(text))
        if surprising:
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            self.warning(
                "OSR-W012",
                f"YAML 1.1 reads '{text}' as {shown}",
                self.span(node),
                f'quote it ("{text}") if you mean the text, or write {shown} to say what you mean',
            )


def _count(text: str, token: str) -> int:
    return text.count(token) if token else 0


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        return exc.problem
    return str(exc).split("\n", 1)[0]


# ------------------------------------------------------------------------------------------ reading the document


def compose(doc: Doc) -> Node | None:
    """The root node of the file's single document, or None with diagnostics in ``doc``."""
    fast = _compose_fast(doc.text)
    if fast is not None:
        return fast
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(doc.text)
        if not loader.check_node():
            doc.error(
                "OSR-E011",
                "the file holds no YAML document",
                Span.point(doc.file, 1, 1),
                "an OML pipeline is a mapping with oml_version, name and steps",
            )
            return None
        root = loader.get_node()
        if loader.check_node():
            event = loader.peek_event()
            doc.error(
                "OSR-E012",
                "the file holds more than one YAML document",
                _mark_span(doc, event.start_mark),
                "an OML file is one pipeline: remove the '---' separator or split the file",
            )
            return None
    except yaml.MarkedYAMLError as exc:
        _syntax_error(doc, exc)
        return None
    except yaml.reader.ReaderError as exc:
        doc.error("OSR-E010", f"YAML syntax error: {_reader_reason(exc)}", doc.at_index(exc.position))
        return None
    except yaml.YAMLError as exc:
        doc.error("OSR-E010", f"YAML syntax error: {_reason(exc)}", Span.point(doc.file, 1, 1))
        return None
    except RecursionError:
        doc.error(
            "OSR-E017",
            f"the document is nested more than {MAX_DEPTH} levels deep",
            _too_deep(doc),
            "OML pipelines are small trees; write the value flatter",
        )
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if isinstance(root, ScalarNode) and root.tag == TAG + "null" and root.value in ("", "~", "null"):
        doc.error(
            "OSR-E011",
            "the YAML document is empty",
            doc.start(root),
            "an OML pipeline is a mapping with oml_version, name and steps",
        )
        return None
    return root


def _too_deep(doc: Doc) -> Span:
    """Where the document first nests past MAX_DEPTH, found from the parser's events (PyYAML's parser is a state
    machine, so unlike the composer it does not recurse); the start of the file if the events never get there."""
    depth = 0
    try:
        for event in yaml.parse(doc.text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH and event.start_mark is not None:
                    return doc.at_index(event.start_mark.index)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return Span.point(doc.file, 1, 1)


_CLOADER = getattr(yaml, "CSafeLoader", None)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_EOL = "\r\n\x85\u2028\u2029"
_BLOCK_HEADER = re.compile(rf"[|>](?:[-+][1-9]?|[1-9][-+]?)?(?: +(?:#[^{_EOL}]*)?)?(?:[{_EOL}]|$)")


def _compose_fast(text: str) -> Node | None:
    """The document composed by libyaml (PyYAML's C parser, ~20x faster), or None to use the Python composer.

    Only documents where both parsers are known to agree exactly (same nodes, values, tags and marks) are taken:
    one block-style mapping document of printable text ending in a line break, without tabs, a BOM, flow
    collections, aliases, unusual block-scalar headers or nesting past MAX_DEPTH. Anything else, and every error,
    goes through the Python composer, which alone produces the diagnostics."""
    if _CLOADER is None or not text.endswith("\n") or "\t" in text or "\ufeff" in text or _NON_PRINTABLE.search(text):
        return None
    loader = _CLOADER(text)
    try:
        if not loader.check_node():
            return None
        root = loader.get_node()
        if loader.check_node():
            return None
    except Exception:  # any libyaml complaint: the Python composer reports it in its own words
        return None
    finally:
        loader.dispose()
    return root if isinstance(root, MappingNode) and _agrees(root, text) else None


def _agrees(root: Node, text: str) -> bool:
    """No construct where libyaml and PyYAML are known to differ (see _compose_fast), each node seen once."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or depth > MAX_DEPTH:
            return False
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">") and not _BLOCK_HEADER.match(text, node.start_mark.index):
                return False
        elif isinstance(node, MappingNode | SequenceNode) and node.flow_style:
            return False
        elif isinstance(node, MappingNode):
            stack += [(n, depth + 1) for pair in node.value for n in pair]
        elif isinstance(node, SequenceNode):
            stack += [(n, depth + 1) for n in node.value]
    return True


def _mark_span(doc: Doc, mark: yaml.Mark) -> Span:
    return (
        doc.at_index(mark.index) if mark.index < len(doc.text) else Span.point(doc.file, mark.line + 1, mark.column + 1)
    )


def _syntax_error(doc: Doc, exc: yaml.MarkedYAMLError) -> None:
    mark = exc.problem_mark or exc.context_mark
    span = _mark_span(doc, mark) if mark is not None else Span.point(doc.file, 1, 1)
    problem = exc.problem or exc.context or "malformed YAML"
    notes: list[str] = []
    if exc.context and exc.problem and exc.context_mark is not None:
        notes.append(f"{exc.context} at {_mark_span(doc, exc.context_mark)}")
    if "'@'" in problem:
        notes.append("a value starting with '@' must be quoted in YAML: connection: \"@mysql.default\"")
    elif "'\\t'" in problem or "\t" in problem:
        notes.append("YAML does not allow tabs for indentation: indent with spaces")
    elif "'`'" in problem:
        notes.append("a value starting with '`' must be quoted in YAML")
    elif problem.startswith("found undefined alias"):
        notes.append("an alias (*name) must come after its anchor (&name)")
    doc.error("OSR-E010", f"YAML syntax error: {problem}", span, *notes)


def _reader_reason(exc: yaml.reader.ReaderError) -> str:
    if isinstance(exc.character, int):
        return f"the byte #x{exc.character:02x} is not allowed ({exc.reason})"
    return f"the character #x{ord(exc.character):04x} is not allowed ({exc.reason})"
