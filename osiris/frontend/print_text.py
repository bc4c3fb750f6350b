"""``to_text(pipeline)``: the canonical text syntax of a pipeline (what ``osirisc fmt`` prints).

Canonical form: two-space indentation; pipeline items in the order oml, description, metadata, schedule, params,
profiles, then steps, each step after a blank line; maps one entry per line (``{}`` when empty); lists on one line
when they hold only scalars and fit, else one item per line with a trailing comma; strings with a line break as
triple-quoted blocks; names and keys bare when they are words, quoted otherwise. ``parse_text(to_text(p)) == p``.
"""

from __future__ import annotations

import math
import re

from osiris.frontend import textstrings
from osiris.ir import nodes as ir

WIDTH = 100
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_COMPONENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
_RESERVED_MODES = {"needs", "pipeline", "oml", "description", "metadata", "schedule", "param", "profile", "step"}


def name(text: str) -> str:
    """A step id, pipeline, parameter or profile name, or a key: bare when it is a word, else quoted."""
    return text if _WORD.fullmatch(text) else textstrings.quote(text)


def _component(text: str) -> str:
    return text if _COMPONENT.fullmatch(text) else textstrings.quote(text)


def _mode(text: str) -> str:
    return text if _WORD.fullmatch(text) and text not in _RESERVED_MODES else textstrings.quote(text)


def string(text: str, indent: str) -> str:
    return textstrings.block(text, indent + "  ") if "\n" in text else textstrings.quote(text)


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _template(value: ir.Template) -> str:
    return "".join(p.value if isinstance(p, ir.Str) else "${params." + p.name + "}" for p in value.parts)


def _scalar(value: ir.Value) -> bool:
    if isinstance(value, ir.List | ir.Map):
        return not (value.items if isinstance(value, ir.List) else value.entries)
    return not (isinstance(value, ir.Str | ir.Template) and "\n" in value_text(value))


def value_text(value: ir.Str | ir.Template) -> str:
    return value.value if isinstance(value, ir.Str) else _template(value)


def value(v: ir.Value, indent: str) -> str:
    """A value as it appears after ``key =`` on a line indented by ``indent``."""
    match v:
        case ir.Str() | ir.Template():
            return string(value_text(v), indent)
        case ir.Bool():
            return "true" if v.value else "false"
        case ir.Int():
            return str(v.value)
        case ir.Float():
            return _float(v.value)
        case ir.Null():
            return "null"
        case ir.ConnectionRef():
            return str(v)
        case ir.ParamRef():
            return "${params." + v.name + "}"
        case ir.List():
            return _list(v, indent)
        case ir.Map():
            return block(v, indent)
    raise TypeError(f"{type(v).__name__} has no text syntax (it only appears after passes)")


def _list(v: ir.List, indent: str) -> str:
    if not v.items:
        return "[]"
    if all(_scalar(item) for item in v.items):
        line = "[" + ", ".join(value(item, indent) for item in v.items) + "]"
        if len(indent) + len(line) <= WIDTH:
            return line
    inner = indent + "  "
    return "[\n" + "".join(f"{inner}{value(item, inner)},\n" for item in v.items) + indent + "]"


def block(m: ir.Map, indent: str) -> str:
    """A map as ``{ ... }`` with one entry per line."""
    if not m.entries:
        return "{}"
    inner = indent + "  "
    lines = "".join(f"{inner}{name(e.key)} = {value(e.value, inner)}\n" for e in m.entries)
    return "{\n" + lines + indent + "}"


def _step(step: ir.Step) -> str:
    head = f"  step {name(step.id)}: {_component(step.component)} {_mode(step.mode)}"
    if step.needs is not None:
        head += " needs [" + ", ".join(name(n) for n in step.needs) + "]"
    if step.config.entries:
        head += " " + block(step.config, "  ")
    return head + "\n"


def to_text(pipeline: ir.Pipeline) -> str:
    """The canonical text of ``pipeline`` (frontend IR: no ``SecretRef``)."""
    out = [f"pipeline {name(pipeline.name)} {{\n", f"  oml {textstrings.quote(pipeline.oml_version)}\n"]
    if pipeline.description is not None:
        out.append(f"  description {string(pipeline.description, '  ')}\n")
    if pipeline.metadata is not None:
        out.append(f"  metadata {block(pipeline.metadata, '  ')}\n")
    if pipeline.schedule is not None:
        out.append(f"  schedule {value(pipeline.schedule, '  ')}\n")
    for param in pipeline.params:
        line = f"  param {name(param.name)}"
        if param.default is not None:
            line += f" = {value(param.default, '  ')}"
        if param.description is not None:
            line += f" description {string(param.description, '  ')}"
        out.append(line + "\n")
    for profile in pipeline.profiles:
        out.append(f"  profile {name(profile.name)} {block(profile.params, '  ')}\n")
    for step in pipeline.steps:
        out.append("\n" + _step(step))
    out.append("}\n")
    return "".join(out)
