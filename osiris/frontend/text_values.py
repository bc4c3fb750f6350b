"""References in text-syntax values, lowered exactly as the OML frontend lowers them (``oml_values``).

The grammar gives every string, bare ``@family.alias`` and bare ``${params.x}`` as a ``Str`` of its text; where
OML parses references (config, parameter defaults, profile values) ``lower_refs`` turns them into
``ConnectionRef`` / ``ParamRef`` / ``Template`` with the same rules, so equal text gives equal IR. ``metadata``
and ``schedule`` stay literal, as in OML.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from osiris.frontend.oml_values import CONNECTION_RE, ENV_REF_RE, PARAM_NAME_RE, split_placeholders
from osiris.ir import nodes as ir
from osiris.ir.span import Span

Report = Callable[[str, str, "Span | None", tuple[str, ...]], None]


def lower_refs(value: ir.Value, report: Report) -> ir.Value:
    """``value`` with every string parsed for references (recursively through lists and maps)."""
    if isinstance(value, ir.Str):
        return lower_string(value.value, value.span, report)
    if isinstance(value, ir.List):
        return ir.List(tuple(lower_refs(v, report) for v in value.items), value.span)
    if isinstance(value, ir.Map):
        entries = tuple(ir.Entry(e.key, lower_refs(e.value, report), e.key_span) for e in value.entries)
        return ir.Map(entries, value.span)
    return value


def lower_string(text: str, span: Span | None, report: Report) -> ir.Value:
    """A string: connection reference, whole parameter, template or plain text (``oml_values.lower_string``)."""
    if text.startswith("@"):
        match = CONNECTION_RE.match(text)
        if match:
            return ir.ConnectionRef(match.group(1), match.group(2), span)
        report(
            "OSR-E056",
            f"malformed connection reference '{text}'",
            span,
            ("a connection reference is @family.alias (letters, digits, _ and -), e.g. @mysql.default",),
        )
        return ir.Str(text, span)
    if "${" not in text or ENV_REF_RE.match(text):  # exactly ${env.NAME}: text, as in OML (redact_secrets decides)
        return ir.Str(text, span)
    return split_placeholders(text, span, lambda match: _placeholder(match, span, report))


def _placeholder(match: re.Match[str], span: Span | None, report: Report) -> ir.ParamRef | None:
    inner = match.group(1)
    if inner is None:
        report("OSR-E057", "unclosed placeholder: '${' without '}'", span, ("write ${params.NAME}",))
        return None
    stripped = inner.strip()
    if stripped.startswith("params."):
        name = stripped.removeprefix("params.")
        if PARAM_NAME_RE.match(name):
            return ir.ParamRef(name, span)
        report(
            "OSR-E057",
            f"malformed placeholder '${{{inner}}}'",
            span,
            ("a parameter name is a letter or _ followed by letters, digits and _: ${params.NAME}",),
        )
        return None
    hint = (
        f"write ${{params.{stripped}}} for the parameter '{stripped}'"
        if PARAM_NAME_RE.match(stripped)
        else ("write ${params.NAME}")
    )
    report(
        "OSR-E057",
        f"placeholder '${{{inner}}}' is not a parameter reference",
        span,
        (hint, "environment variables (${VAR}) belong in osiris_connections.yaml, not in a pipeline"),
    )
    return None
