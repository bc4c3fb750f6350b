"""Mutations that make a valid generated pipeline invalid in one known way, each with the code it must produce.

``invalid_pipelines()`` draws an ``InvalidPipeline``: a ``GeneratedPipeline`` changed by one ``Mutation``. The
first error ``osirisc check`` reports for it must carry ``expected`` (the code for the syntax it is written in: a
few structural errors are reported by the OML frontend under OML codes and by the passes for the text syntax).

Every mutation works on the IR, so both syntaxes get it, except those marked ``oml_only`` (top-level keys that only
YAML can spell), which edit the rendered OML text.

``hostile_sources(seeds)`` is the other kind: valid files edited at the byte level (deleted, duplicated, hostile
tokens inserted) to fuzz the readers, where the only promise is a diagnostic, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st

from osiris.components.registry import ComponentSpec, default_registry
from osiris.ir import nodes as ir
from osiris.testing.pipelines import GeneratedPipeline, valid_pipelines

Apply = Callable[[st.DrawFn, GeneratedPipeline], "GeneratedPipeline | None"]


@attrs.frozen
class Mutation:
    """``apply`` returns the mutated pipeline, or None when this pipeline offers no place for the mutation."""

    name: str
    code: str  # the first error for OML
    apply: Apply
    text_code: str | None = None  # when the text syntax reports it under another code
    oml_only: bool = False

    def expected(self, syntax: str) -> str:
        return self.text_code if syntax == "text" and self.text_code else self.code


@attrs.frozen
class InvalidPipeline:
    generated: GeneratedPipeline
    mutation: Mutation
    oml_suffix: str = ""  # text appended to the OML rendering (oml_only mutations)

    def expected(self, syntax: str) -> str:
        return self.mutation.expected(syntax)

    def write_to(self, folder: Path, syntax: str = "oml") -> Path:
        path = self.generated.write_to(folder, syntax)
        if self.oml_suffix:
            path.write_text(path.read_text(encoding="utf-8") + self.oml_suffix, encoding="utf-8")
        return path


# --------------------------------------------------------------------------- helpers


def _spec(step: ir.Step) -> ComponentSpec:
    spec = default_registry().get(step.component)
    assert spec is not None, step.component
    return spec


def _with_step(g: GeneratedPipeline, index: int, step: ir.Step) -> GeneratedPipeline:
    steps = list(g.pipeline.steps)
    steps[index] = step
    return attrs.evolve(g, pipeline=attrs.evolve(g.pipeline, steps=tuple(steps)))


def _set(step: ir.Step, key: str, value: ir.Value) -> ir.Step:
    entries = [e for e in step.config.entries if e.key != key] + [ir.Entry(key, value)]
    return attrs.evolve(step, config=ir.Map(tuple(entries)))


def _pick(draw: st.DrawFn, g: GeneratedPipeline, ok: Callable[[ir.Step], bool]) -> int | None:
    """A step ``ok`` accepts, among those of a known component (one mutated before may not be)."""
    registry = default_registry()
    indexes = [i for i, s in enumerate(g.pipeline.steps) if registry.get(s.component) is not None and ok(s)]
    return draw(st.sampled_from(indexes)) if indexes else None


def _needs_of(g: GeneratedPipeline, i: int) -> tuple[str, ...]:
    """The resolved needs of step ``i`` (implicit rule: a consumer without needs needs the step above)."""
    step = g.pipeline.steps[i]
    if step.needs is not None:
        return step.needs
    return (g.pipeline.steps[i - 1].id,) if step.mode != "read" and i > 0 else ()


def _edit(
    draw: st.DrawFn, g: GeneratedPipeline, ok: Callable[[ir.Step], bool], change: Callable[[ir.Step], ir.Step]
) -> GeneratedPipeline | None:
    i = _pick(draw, g, ok)
    return None if i is None else _with_step(g, i, change(g.pipeline.steps[i]))


def _typed_fields(spec: ComponentSpec, type_: str) -> list[str]:
    return sorted(k for k, v in spec.properties.items() if isinstance(v, dict) and v.get("type") == type_)


# --------------------------------------------------------------------------- the mutations


def _unknown_component(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    return _edit(draw, g, lambda s: True, lambda s: attrs.evolve(s, component=s.component + "_nope"))


def _unsupported_mode(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    return _edit(draw, g, lambda s: s.mode == "write", lambda s: attrs.evolve(s, mode="transform"))


def _duplicate_id(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    if len(g.pipeline.steps) < 2:
        return None
    i = draw(st.integers(1, len(g.pipeline.steps) - 1))
    first = g.pipeline.steps[0].id
    return _with_step(g, i, attrs.evolve(g.pipeline.steps[i], id=first))


def _unknown_need(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    i = draw(st.integers(0, len(g.pipeline.steps) - 1))
    step = g.pipeline.steps[i]
    return _with_step(g, i, attrs.evolve(step, needs=(*_needs_of(g, i), "no-such-step")))


def _self_need(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    i = draw(st.integers(0, len(g.pipeline.steps) - 1))
    step = g.pipeline.steps[i]
    return _with_step(g, i, attrs.evolve(step, needs=(*_needs_of(g, i), step.id)))


def _cycle(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    edges = [(i, n) for i in range(len(g.pipeline.steps)) for n in _needs_of(g, i)]
    if not edges:
        return None
    i, producer = draw(st.sampled_from(edges))
    j = next(k for k, s in enumerate(g.pipeline.steps) if s.id == producer)
    consumer = g.pipeline.steps[i].id
    return _with_step(g, j, attrs.evolve(g.pipeline.steps[j], needs=(*_needs_of(g, j), consumer)))


def _unknown_key(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    key = draw(st.from_regex(r"zz_[a-z]{1,6}", fullmatch=True))
    return _edit(draw, g, lambda s: True, lambda s: _set(s, key, ir.Int(1)))


def _missing_required(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    def required(s: ir.Step) -> list[str]:
        spec = _spec(s)
        need = [k for k in spec.required if s.config.get(k) is not None]
        return [k for k in need if not (s.config.get("connection") and k in spec.connection_fields)]

    i = _pick(draw, g, lambda s: bool(required(s)))
    if i is None:
        return None
    step = g.pipeline.steps[i]
    key = draw(st.sampled_from(required(step)))
    return _with_step(g, i, attrs.evolve(step, config=ir.Map(tuple(e for e in step.config.entries if e.key != key))))


def _wrong_type(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    i = _pick(draw, g, lambda s: bool(_typed_fields(_spec(s), "integer")))
    if i is None:
        return None
    step = g.pipeline.steps[i]
    key = draw(st.sampled_from(_typed_fields(_spec(step), "integer")))
    return _with_step(g, i, _set(step, key, ir.Str(draw(st.sampled_from(["ten", "", "1.5x"])))))


def _bad_enum(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    return _edit(
        draw, g, lambda s: "write_mode" in _spec(s).properties, lambda s: _set(s, "write_mode", ir.Str("sideways"))
    )


def _out_of_range(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    return _edit(draw, g, lambda s: "batch_size" in _spec(s).properties, lambda s: _set(s, "batch_size", ir.Int(0)))


def _literal_secret(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    from osiris.testing.secrets import secret_values

    def ok(s: ir.Step) -> bool:
        return bool(_spec(s).secret_fields) and s.config.get("connection") is None

    i = _pick(draw, g, ok)
    if i is None:
        return None
    step = g.pipeline.steps[i]
    key = draw(st.sampled_from(sorted(_spec(step).secret_fields)))
    secret = draw(secret_values(min_size=20))
    mutated = _with_step(g, i, _set(step, key, ir.Str(secret)))
    return attrs.evolve(mutated, secrets=(*mutated.secrets, secret))


def _credentials_in_url(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    from osiris.testing.secrets import secret_values

    secret = draw(secret_values().map(lambda s: "".join(c for c in s if c.isalnum())))
    query = ir.Str(f"SELECT * FROM input_df WHERE src = 'postgres://admin:{secret}@db.example.com/app'")
    mutated = _edit(draw, g, lambda s: s.component == "duckdb.processor", lambda s: _set(s, "query", query))
    return None if mutated is None else attrs.evolve(mutated, secrets=(*mutated.secrets, secret))


def _unknown_param(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    name = draw(st.from_regex(r"undeclared_[a-z]{1,5}", fullmatch=True))
    return _edit(
        draw, g, lambda s: "batch_size" in _spec(s).properties, lambda s: _set(s, "batch_size", ir.ParamRef(name))
    )


def _wrong_family(draw: st.DrawFn, g: GeneratedPipeline) -> GeneratedPipeline | None:
    def ok(s: ir.Step) -> bool:
        return "connection" in _spec(s).properties

    def change(s: ir.Step) -> ir.Step:
        family = "filesystem" if _spec(s).family != "filesystem" else "mysql"
        return _set(s, "connection", ir.ConnectionRef(family, "other"))

    return _edit(draw, g, ok, change)


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("unknown_component", "OSR-E120", _unknown_component),
    Mutation("unsupported_mode", "OSR-E121", _unsupported_mode),
    Mutation("duplicate_id", "OSR-E029", _duplicate_id),
    Mutation("unknown_need", "OSR-E030", _unknown_need),
    Mutation("self_need", "OSR-E031", _self_need),
    Mutation("cycle", "OSR-E032", _cycle),
    Mutation("unknown_key", "OSR-E150", _unknown_key),
    Mutation("missing_required", "OSR-E151", _missing_required),
    Mutation("wrong_type", "OSR-E152", _wrong_type),
    Mutation("bad_enum", "OSR-E153", _bad_enum),
    Mutation("out_of_range", "OSR-E154", _out_of_range),
    Mutation("wrong_family", "OSR-E156", _wrong_family),
    Mutation("literal_secret", "OSR-E180", _literal_secret),
    Mutation("credentials_in_url", "OSR-E181", _credentials_in_url),
    Mutation("unknown_param", "OSR-E100", _unknown_param),
    Mutation("forbidden_top_level_key", "OSR-E021", lambda d, g: g, oml_only=True),
)
_OML_SUFFIX = {"forbidden_top_level_key": "tasks: []\n"}
BY_NAME = {m.name: m for m in MUTATIONS}


@st.composite
def invalid_pipelines(draw: st.DrawFn, syntax: str = "oml", mutation: str | None = None) -> InvalidPipeline:
    """A valid pipeline broken by one mutation (any that applies, or the named one)."""
    candidates = [BY_NAME[mutation]] if mutation else [m for m in MUTATIONS if syntax == "oml" or not m.oml_only]
    g = draw(valid_pipelines())
    start = draw(st.integers(0, len(candidates) - 1))
    order: list[Any] = candidates[start:] + candidates[:start]  # one drawn first, the rest as fallbacks
    for m in order:
        mutated = m.apply(draw, g)
        if mutated is not None:
            return InvalidPipeline(mutated, m, _OML_SUFFIX.get(m.name, ""))
    from hypothesis import reject

    reject()
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- several independent mutations

# Mutations whose whole effect is confined to the one step they change, each reported by a check of that step alone
# (the frontend's step rules, resolve_params, bind_components, build_dag's needs, validate_config, redact_secrets):
# never a duplicate id (no step can be told apart then), a cycle (two steps), a pipeline-level key, or anything
# found from an input's schema. Mutations of different steps are independent, so each must be reported.
STEP_LOCAL: tuple[str, ...] = (
    "unknown_component",
    "unsupported_mode",
    "unknown_need",
    "self_need",
    "unknown_key",
    "missing_required",
    "wrong_type",
    "bad_enum",
    "out_of_range",
    "wrong_family",
    "literal_secret",
    "credentials_in_url",
    "unknown_param",
)


@attrs.frozen
class MultiInvalidPipeline:
    """A valid pipeline with ``mutated`` steps, each changed by its own step-local mutation (step id, mutation)."""

    generated: GeneratedPipeline
    mutated: tuple[tuple[str, Mutation], ...]

    def write_to(self, folder: Path, syntax: str = "oml") -> Path:
        return self.generated.write_to(folder, syntax)


@st.composite
def independently_invalid_pipelines(draw: st.DrawFn, min_k: int = 2, max_k: int = 4) -> MultiInvalidPipeline:
    """A valid pipeline broken by k (``min_k``..``max_k``) ``STEP_LOCAL`` mutations, each in a different step.

    Each mutation is drawn, applied where it applies, and kept only when it changed exactly one step not changed
    before; a draw that cannot reach ``min_k`` such steps is rejected (never returned with fewer)."""
    from hypothesis import reject

    g = draw(valid_pipelines())
    if len(g.pipeline.steps) < min_k:
        reject()
    k = draw(st.integers(min_k, min(max_k, len(g.pipeline.steps))))
    local = [BY_NAME[name] for name in STEP_LOCAL]
    mutated: list[tuple[str, Mutation]] = []
    used: set[int] = set()
    for _ in range(k):
        for m in draw(st.permutations(local)):
            changed = m.apply(draw, g)
            if changed is None:
                continue
            diff = [i for i, (a, b) in enumerate(zip(g.pipeline.steps, changed.pipeline.steps, strict=True)) if a != b]
            if len(diff) == 1 and diff[0] not in used:
                used.add(diff[0])
                mutated.append((changed.pipeline.steps[diff[0]].id, m))
                g = changed
                break
    if len(mutated) < min_k:
        reject()
    return MultiInvalidPipeline(g, tuple(mutated))


# --------------------------------------------------------------------------- hostile bytes (fuzzing the frontends)

# Tokens that have broken, or could break, a reader: nesting past every limit, numbers past Python's and JSON's,
# control characters (NUL, ESC sequences, C1, line separators), invalid UTF-8, a BOM in the middle, YAML anchors,
# aliases, merge keys and tags, unterminated strings and placeholders of both syntaxes.
HOSTILE_TOKENS: tuple[bytes, ...] = (
    b"[" * 5000 + b"]" * 5000,
    b"[" * 3000,
    b"{a = " * 3000 + b"1" + b"}" * 3000,
    b"{a: " * 3000 + b"1" + b"}" * 3000,
    b"".join(b"\n" + b" " * (2 * i) + b"- " for i in range(400)),
    b"9" * 4301,
    b"-" + b"9" * 5000,
    b"0x" + b"f" * 4000,
    b"0o" + b"7" * 6000,
    b"0b" + b"1" * 20000,
    b"1" + b":59" * 3000,
    b"1e999",
    b"-1e999",
    b"nan",
    b"inf",
    b".inf",
    b".NaN",
    b"1" + b"0" * 400 + b".5",
    b"\x00",
    b"\x07",
    b"\x1b[31m",
    b"\x1b]0;title\x07",
    b"\x7f",
    "\x85\u2028\u2029\x9b".encode(),
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\r",
    b"\r\r\n",
    b"\t",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"&a [*a, *a, *a, *a]",
    b"!!python/object/apply:os.system ['true']",
    b"!!python/name:os.system",
    b"!!binary aGVsbG8=",
    b"!custom ",
    b"? ",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b'"',
    b'"""',
    b'"\\x"',
    b"${",
    b"${params.",
    b"${params.input}",
    b"${env.PASSWORD}",
    b"@",
    b"@a.b.c",
    b"#",
    b"=",
    b":",
    b",",
    b"}",
    b"]",
    b"step",
    b"param a b",
    b"needs [",
    b"postgres://user:pass@host/db",
    "é😀\u200b\ufeff".encode(),
)


@st.composite
def hostile_sources(draw: st.DrawFn, seeds: Sequence[bytes], max_edits: int = 3) -> bytes:
    """One of ``seeds`` (valid pipeline files) after 1..max_edits byte-level edits: delete, duplicate or move a
    range, insert a hostile token, turn line ends into CR or CRLF, indent with tabs, or prefix a BOM."""
    data = bytearray(draw(st.sampled_from(list(seeds))))
    for _ in range(draw(st.integers(1, max_edits))):
        size = len(data)
        at = draw(st.integers(0, size))
        end = draw(st.integers(at, min(size, at + 200)))
        edit = draw(st.sampled_from(("delete", "duplicate", "insert", "insert", "insert", "lines", "tabs", "bom")))
        if edit == "delete":
            del data[at:end]
        elif edit == "duplicate":
            data[end:end] = data[at:end]
        elif edit == "insert":
            data[at:at] = draw(st.sampled_from(HOSTILE_TOKENS) | st.binary(min_size=1, max_size=8))
        elif edit == "lines":
            data = bytearray(data.replace(b"\r\n", b"\n").replace(b"\n", draw(st.sampled_from((b"\r", b"\r\n")))))
        elif edit == "tabs":
            data = bytearray(data.replace(b"  ", b"\t"))
        else:
            data[0:0] = b"\xef\xbb\xbf"
    return bytes(data)


# --------------------------------------------------------------------------- syntax errors in the text syntax

SYNTAX_CODES = frozenset({"OSR-E050", "OSR-E051", "OSR-E059", "OSR-E060", "OSR-E061", "OSR-E062", "OSR-E063"})


@attrs.frozen
class MistypedText:
    """A valid text-syntax file with one syntax error in each of some steps: (step id, line of the error)."""

    text: str
    mistakes: tuple[tuple[str, int], ...]
    step_ids: tuple[str, ...]  # every step of the file, in order


def _syntax_mistake(draw: st.DrawFn, lines: list[str], step: ir.Step) -> int | None:
    """Break one line of ``step`` in place (its header, or its first config entry); the line, or None."""
    assert step.span is not None and step.id_span is not None
    header = step.span.line - 1
    colon = step.id_span.end_col - 1  # `step ID: COMPONENT MODE ...`
    line = lines[header]
    if line[colon : colon + 1] != ":":
        return None
    entry_lines = [e.key_span.line - 1 for e in step.config.entries[:1] if e.key_span and e.key_span.line > header + 1]
    kinds = ["no-colon", "double-colon", "no-component", "bad-character", *(["no-value"] if entry_lines else [])]
    kind = draw(st.sampled_from(kinds))
    if kind == "no-value":  # `key = = value`
        at = entry_lines[0]
        lines[at] = lines[at].replace(" = ", " = = ", 1)
        return at + 1
    edit = {
        "no-colon": line[:colon] + line[colon + 1 :],
        "double-colon": line[: colon + 1] + ":" + line[colon + 1 :],
        "no-component": line[: colon + 1] + " ," + line[colon + 1 :],
        "bad-character": line[: colon + 1] + " %" + line[colon + 1 :],
    }
    lines[header] = edit[kind]
    return header + 1


@st.composite
def mistyped_texts(draw: st.DrawFn, max_k: int = 4) -> MistypedText:
    """A generated pipeline in the text syntax with k (1..``max_k``) independent syntax errors, each on a line of
    its own step (a header or a config entry): a parser that recovers well reports exactly those k lines."""
    from hypothesis import reject

    from osiris.frontend.print_text import to_text
    from osiris.frontend.text import parse_text
    from osiris.testing.strategies import pipelines

    text = to_text(draw(pipelines(max_steps=5)))
    parsed, _ = parse_text(text, "p.osiris")
    if parsed is None:
        reject()
    assert parsed is not None
    steps = list(parsed.steps)
    chosen = draw(st.lists(st.sampled_from(range(len(steps))), min_size=1, max_size=max_k, unique=True))
    lines = text.split("\n")
    mistakes: list[tuple[str, int]] = []
    for i in sorted(chosen):
        line = _syntax_mistake(draw, lines, steps[i])
        if line is not None:
            mistakes.append((steps[i].id, line))
    if not mistakes:
        reject()
    return MistypedText("\n".join(lines), tuple(mistakes), tuple(s.id for s in steps))
