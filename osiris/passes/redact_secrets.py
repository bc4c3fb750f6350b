"""redact_secrets: no secret value survives in the IR; a literal secret in a pipeline is an error.

A secret field is one the spec marks (``secrets``/``x-secret`` JSON pointers) or a top-level config key with a
secret name by the one rule of ``osiris.secrets`` (exact names such as password, token, key, dsn, or suffixes
such as ``_password``; never a substring, so ``primary_key`` is not one). Its value may be:

- ``"${env.NAME}"`` (exactly) -> ``SecretRef("env", NAME)``: resolved from the environment at run time only;
- ``"@family.alias"`` -> ``SecretRef("connection", field, ref)``: that field of the connection;
- absent, null or ``""`` (nothing secret) -> unchanged;
- anything else -> OSR-E180 at the value, masked in every rendering (``Diagnostic.redact``).

Secret-looking text anywhere in a config string, SQL included, is an error at the precise sub-span: credentials in
a URL (``scheme://user:pass@host``, OSR-E181), ``password=...`` in a connection string (OSR-E182), well-known
token formats (JWTs, AWS/GitHub/Slack/Supabase keys, PEM private keys; OSR-E183). Secrets found are masked in the
returned IR too, so even an erroneous pipeline never carries one.

Before: ``{connection: "@mysql.db", password: "@mysql.db"}`` -> ``password: SecretRef(connection, password,
@mysql.db)``; ``{password: hunter2}`` -> OSR-E180 ("move it into osiris_connections.yaml ...").
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator

import attrs

from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error
from osiris.ir.span import Span
from osiris.passes import secret_scan
from osiris.passes.base import PassContext, PassResult
from osiris.secrets import CONNECTION_REF, ENV_REF, MASK, is_secret_name

__all__ = ["find_secrets", "is_secret_name", "redact_secrets"]

FIX = 'move it into osiris_connections.yaml and use connection: "@{family}.<alias>"'
ENV_FIX = 'or reference an environment variable: {key}: "${{env.NAME}}"'


def _conn_string_context(text: str) -> bool:
    return re.search(r"(?i)(?<![A-Za-z0-9_.])(?:host|user|dbname|server|uid|database)\s*=", text) is not None


def find_secrets(text: str) -> Iterator[tuple[str, str, int, int]]:
    """(code, what, start, end) of every secret-looking part of a string, placeholders excluded; linear time in
    the length of ``text`` (``secret_scan``)."""
    context: bool | None = None  # a connection string? decided once per text, when an E182 match needs it
    for code, what, start, end in secret_scan.scan(text):
        value = text[start:end].strip("'\"")
        if not value or value.startswith("${") or value == MASK:
            continue
        if code == "OSR-E182":
            context = _conn_string_context(text) if context is None else context
            if not context:
                continue
        yield code, what, start, end


def sub_span(span: Span | None, token: str, sources: dict[str, str] | None) -> Span | None:
    """The span of ``token`` inside the source text ``span`` covers (first occurrence); ``span`` when not found."""
    if span is None or sources is None or span.file not in sources:
        return span
    text = sources[span.file]
    offsets = _line_starts(text)  # computed once per source text: a query may hold thousands of findings
    lines = len(offsets) - 1
    if span.line > lines:
        return span
    begin = offsets[span.line - 1] + span.col - 1
    finish = offsets[min(span.end_line, lines) - 1] + span.end_col - 1
    pos = text.find(token, begin, max(finish, begin))
    if pos < 0:
        return span
    line = bisect.bisect_right(offsets, pos, 0, lines)
    end = pos + len(token)
    end_line = bisect.bisect_right(offsets, max(end - 1, pos), 0, lines)
    return Span(span.file, line, pos - offsets[line - 1] + 1, end_line, end - offsets[end_line - 1] + 1)


@functools.lru_cache(maxsize=8)
def _line_starts(text: str) -> list[int]:
    """The offset where each line of ``text`` starts (``str.splitlines`` breaks), then ``len(text)``."""
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


@attrs.define
class _Redactor:
    family: str
    step_id: str
    sources: dict[str, str]
    connection: nodes.ConnectionRef | None
    diagnostics: list[Diagnostic] = attrs.field(factory=list)

    def secret_field(self, key: str, value: nodes.Value, key_span: Span | None) -> nodes.Value:
        if isinstance(value, nodes.SecretRef | nodes.Null) or (isinstance(value, nodes.Str) and value.value == ""):
            return value
        if isinstance(value, nodes.ConnectionRef):
            return nodes.SecretRef("connection", key, value, value.span)
        if isinstance(value, nodes.Str):
            m = ENV_REF.match(value.value)
            if m:
                return nodes.SecretRef("env", m.group(1), None, value.span)
            m = CONNECTION_REF.match(value.value)
            if m:
                return nodes.SecretRef("connection", key, nodes.ConnectionRef(m[1], m[2], value.span), value.span)
        span = value.span or key_span
        self.diagnostics.append(
            error(
                "OSR-E180",
                f"inline secret in '{key}' of step '{self.step_id}'",
                span,
                FIX.format(family=self.family),
                ENV_FIX.format(key=key),
                redact=[span] if span else [],
            )
        )
        return nodes.Null(value.span)

    def scan(self, value: nodes.Value, key: str) -> nodes.Value:
        # an unchanged value is returned as is (no copy): later passes and the verifier see the same objects
        if isinstance(value, nodes.Map):
            scanned = [self.scan(e.value, e.key) for e in value.entries]
            if all(new is e.value for new, e in zip(scanned, value.entries, strict=True)):
                return value
            return attrs.evolve(
                value,
                entries=tuple(
                    e if new is e.value else attrs.evolve(e, value=new)
                    for new, e in zip(scanned, value.entries, strict=True)
                ),
            )
        if isinstance(value, nodes.List):
            items = tuple(self.scan(v, key) for v in value.items)
            if all(new is old for new, old in zip(items, value.items, strict=True)):
                return value
            return attrs.evolve(value, items=items)
        if isinstance(value, nodes.Str):
            if ENV_REF.match(value.value):
                self.diagnostics.append(
                    error(
                        "OSR-E184",
                        f"environment reference in '{key}' of step '{self.step_id}', which is not a secret field",
                        value.span,
                        "${env.NAME} is only for secret fields (password, key, dsn, ...); use a parameter "
                        "(${params.NAME}, set with --param or OSIRIS_PARAM_NAME) for other values",
                    )
                )
                return value
            text = self.scan_text(value.value, value.span, key)
            return value if text == value.value else attrs.evolve(value, value=text)
        if isinstance(value, nodes.Template):
            text = "".join(p.value if isinstance(p, nodes.Str) else "" for p in value.parts)
            list(self._report(text, value.span, key))
            parts = tuple(
                attrs.evolve(p, value=self.scan_text(p.value, None, key, report=False))
                if isinstance(p, nodes.Str)
                else p
                for p in value.parts
            )
            return attrs.evolve(value, parts=parts)
        return value

    def scan_text(self, text: str, span: Span | None, key: str, *, report: bool = True) -> str:
        found = list(self._report(text, span, key)) if report else list(find_secrets(text))
        for _, _, start, end in sorted(found, key=lambda f: -f[2]):
            text = text[:start] + MASK + text[end:]
        return text

    def _report(self, text: str, span: Span | None, key: str) -> Iterator[tuple[str, str, int, int]]:
        for code, what, start, end in find_secrets(text):
            where = sub_span(span, text[start:end], self.sources)
            self.diagnostics.append(
                error(
                    code,
                    f"{what} in '{key}' of step '{self.step_id}'",
                    where,
                    FIX.format(family=self.family) + " (the connection holds the credentials)",
                    redact=[where] if where else [],
                )
            )
            yield code, what, start, end


def redact_secrets(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diagnostics: list[Diagnostic] = []
    steps = []
    broken: set[str] = set()
    for step in pipeline.steps:
        spec = ctx.registry.get(step.component)
        marked = spec.secret_fields if spec else frozenset()
        family = spec.family if spec else step.component.split(".", 1)[0]
        conn = step.config.get("connection")
        r = _Redactor(family, step.id, dict(ctx.sources), conn if isinstance(conn, nodes.ConnectionRef) else None)
        entries = []
        for entry in step.config.entries:
            if entry.key in marked or is_secret_name(entry.key):
                new = r.secret_field(entry.key, entry.value, entry.key_span)
            else:
                new = r.scan(entry.value, entry.key)
            entries.append(entry if new is entry.value else attrs.evolve(entry, value=new))
        # a step found broken before (ctx.skip) has its secrets masked all the same, but they are not reported
        if r.diagnostics and step.id not in ctx.skip:
            diagnostics += r.diagnostics
            broken.add(step.id)
        if all(new is old for new, old in zip(entries, step.config.entries, strict=True)):
            steps.append(step)  # nothing redacted: the same step object
        else:
            steps.append(attrs.evolve(step, config=attrs.evolve(step.config, entries=tuple(entries))))
    return PassResult(attrs.evolve(pipeline, steps=tuple(steps)), tuple(diagnostics), frozenset(broken))
