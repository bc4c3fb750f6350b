"""Lowering OML values to IR values, with the two kinds of embedded reference parsed into nodes.

In config values (and parameter values) a string that is exactly ``@family.alias`` becomes ``ConnectionRef``; one
that is exactly ``${params.name}`` becomes ``ParamRef``; a string with placeholders inside becomes a ``Template``.
A string starting with ``@`` that is not a well-formed reference (OSR-E033) and a ``${...}`` that is not
``${params.NAME}`` (OSR-E034) are errors: environment variables belong in ``osiris_connections.yaml``, not in a
pipeline (except exactly ``${env.NAME}``, see ``ENV_REF_RE``). Free-form data (``metadata``, ``schedule``) is
lowered literally.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from osiris.frontend.yaml_nodes import Doc, TooComplex
from osiris.ir import nodes as ir
from osiris.ir.span import Span

CONNECTION_RE = re.compile(r"^@([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$")
PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}|\$\{")
# Exactly ``${env.NAME}``: an environment reference for a secret field, kept as text here and turned into a
# ``SecretRef`` by the redact_secrets pass (which rejects it anywhere else).
ENV_REF_RE = re.compile(r"^\$\{env\.[A-Za-z_][A-Za-z0-9_]*\}$")


def lower(doc: Doc, node: Node, *, refs: bool, depth: int = 0, stack: frozenset[int] = frozenset()) -> ir.Value:
    """Any YAML node as an IR value; with ``refs`` strings are parsed for references."""
    doc.visit(node, depth)
    if isinstance(node, ScalarNode):
        value = doc.scalar(node)
        if refs and isinstance(value, ir.Str):
            return lower_string(doc, node, value.value)
        return value
    if id(node) in stack:
        raise TooComplex("an alias refers to a value that contains it", node)
    inner = stack | {id(node)}
    if isinstance(node, SequenceNode):
        items = tuple(lower(doc, item, refs=refs, depth=depth + 1, stack=inner) for item in node.value)
        return ir.List(items, doc.span(node))
    assert isinstance(node, MappingNode)
    entries = tuple(
        ir.Entry(key, lower(doc, value, refs=refs, depth=depth + 1, stack=inner), doc.span(key_node))
        for key, key_node, value in doc.pairs(node)
    )
    return ir.Map(entries, doc.span(node))


def lower_string(doc: Doc, node: ScalarNode, text: str) -> ir.Value:
    """A string value: connection reference, whole parameter, template, or plain text."""
    span = doc.span(node)
    if text.startswith("@"):
        match = CONNECTION_RE.match(text)
        if match:
            return ir.ConnectionRef(match.group(1), match.group(2), span)
        doc.error(
            "OSR-E033",
            f"malformed connection reference '{text}'",
            span,
            'a connection reference is "@family.alias" (letters, digits, _ and -), e.g. "@mysql.default"',
        )
        return ir.Str(text, span)
    if "${" not in text or ENV_REF_RE.match(text):
        return ir.Str(text, span)
    return split_placeholders(text, span, lambda match: _placeholder(doc, node, text, match))


def split_placeholders(
    text: str, span: Span | None, placeholder: Callable[[re.Match[str]], ir.ParamRef | None]
) -> ir.Value:
    """Text with ``${...}`` inside as ``ParamRef`` (the whole value), ``Template`` or, when ``placeholder`` rejected
    one (it reports why and returns None), the plain ``Str``. Shared by both frontends so they lower alike."""
    parts: list[ir.Str | ir.ParamRef] = []
    pos = 0
    ok = True
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > pos:
            parts.append(ir.Str(text[pos : match.start()]))
        pos = match.end()
        ref = placeholder(match)
        if ref is None:
            ok = False
        else:
            parts.append(ref)
    if pos < len(text):
        parts.append(ir.Str(text[pos:]))
    if not ok:
        return ir.Str(text, span)
    if len(parts) == 1 and isinstance(parts[0], ir.ParamRef):
        return ir.ParamRef(parts[0].name, span)
    return ir.Template(tuple(parts), span)


def _placeholder(doc: Doc, node: ScalarNode, text: str, match: re.Match[str]) -> ir.ParamRef | None:
    span = doc.inner(node, text, match.start(), match.end())
    inner = match.group(1)
    if inner is None:
        doc.error("OSR-E034", "unclosed placeholder: '${' without '}'", span, "write ${params.NAME}")
        return None
    name = inner.strip().removeprefix("params.") if inner.strip().startswith("params.") else None
    if name is not None and PARAM_NAME_RE.match(name):
        return ir.ParamRef(name, span)
    if name is not None:
        doc.error(
            "OSR-E034",
            f"malformed placeholder '${{{inner}}}'",
            span,
            "a parameter name is a letter or _ followed by letters, digits and _: ${params.NAME}",
        )
        return None
    hint = (
        f"write ${{params.{inner.strip()}}} for the parameter '{inner.strip()}'"
        if PARAM_NAME_RE.match(inner.strip())
        else "write ${params.NAME}"
    )
    doc.error(
        "OSR-E034",
        f"placeholder '${{{inner}}}' is not a parameter reference",
        span,
        hint,
        "environment variables (${VAR}) belong in osiris_connections.yaml, not in a pipeline",
    )
    return None
