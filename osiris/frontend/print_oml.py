"""``to_oml(pipeline)``: canonical OML YAML that ``parse_oml`` reads back to the same IR.

Keys in OML order (oml_version, name, description, metadata, schedule, params, profiles, steps; a step's id,
component, mode, needs, config); strings that hold ``@``/``${`` references double-quoted, multi-line strings as
``|`` block scalars (PyYAML falls back to a quoted scalar when a block cannot hold the text exactly); a parameter
in long form (``{default, description}``) only when it needs it.
"""

from __future__ import annotations

from typing import Any

import yaml

from osiris.ir import nodes as ir


class _Str(str):
    """A string the dumper must double-quote (it holds a reference or placeholder)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """Indents block sequences under their key (``steps:\\n  - id: ...``)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if data.startswith("@") or "${" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_str(data)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Str, _represent_str)


def plain(value: ir.Value) -> Any:
    """A value as the Python data PyYAML dumps; references become the strings OML spells them as."""
    match value:
        case ir.Str():
            return value.value
        case ir.Int() | ir.Float() | ir.Bool():
            return value.value
        case ir.Null():
            return None
        case ir.ConnectionRef():
            return _Str(str(value))
        case ir.ParamRef():
            return _Str("${params." + value.name + "}")
        case ir.Template():
            return _Str("".join(p.value if isinstance(p, ir.Str) else "${params." + p.name + "}" for p in value.parts))
        case ir.List():
            return [plain(v) for v in value.items]
        case ir.Map():
            return {e.key: plain(e.value) for e in value.entries}
    raise TypeError(f"{type(value).__name__} has no OML spelling (it only appears after passes)")


def _param(param: ir.Param) -> Any:
    if param.description is None and param.default is not None and not isinstance(param.default, ir.Map | ir.Null):
        return plain(param.default)
    if param.description is None and param.default is None:
        return None
    decl: dict[str, Any] = {}
    if param.default is not None:
        decl["default"] = plain(param.default)
    if param.description is not None:
        decl["description"] = param.description
    return decl


def _step(step: ir.Step) -> dict[str, Any]:
    data: dict[str, Any] = {"id": step.id, "component": step.component, "mode": step.mode}
    if step.needs is not None:
        data["needs"] = list(step.needs)
    if step.config.entries:
        data["config"] = plain(step.config)
    return data


def to_oml(pipeline: ir.Pipeline) -> str:
    """The canonical OML YAML of ``pipeline`` (frontend IR: no ``SecretRef``)."""
    doc: dict[str, Any] = {"oml_version": pipeline.oml_version, "name": pipeline.name}
    if pipeline.description is not None:
        doc["description"] = pipeline.description
    if pipeline.metadata is not None:
        doc["metadata"] = plain(pipeline.metadata)
    if pipeline.schedule is not None:
        doc["schedule"] = plain(pipeline.schedule)
    if pipeline.params:
        doc["params"] = {p.name: _param(p) for p in pipeline.params}
    if pipeline.profiles:
        doc["profiles"] = {p.name: {"params": plain(p.params)} for p in pipeline.profiles}
    doc["steps"] = [_step(s) for s in pipeline.steps]
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096, default_flow_style=False)
