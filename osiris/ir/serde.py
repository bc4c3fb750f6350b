"""IR <-> JSON with one cattrs converter.

Every value node carries a ``kind`` tag; spans are kept (so ``--print-ir`` shows where things came from) but they
never affect equality. The document has a version key: ``{"ir_version": 1, "pipeline": {...}}``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from osiris.ir import nodes
from osiris.ir.span import Span

IR_VERSION = 1

_KINDS: dict[type, str] = {
    nodes.Str: "str",
    nodes.Int: "int",
    nodes.Float: "float",
    nodes.Bool: "bool",
    nodes.Null: "null",
    nodes.List: "list",
    nodes.Map: "map",
    nodes.ConnectionRef: "connection",
    nodes.ParamRef: "param",
    nodes.Template: "template",
    nodes.SecretRef: "secret",
}


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(omit_if_default=True)
    conv.register_unstructure_hook(Span, lambda s: [s.file, s.line, s.col, s.end_line, s.end_col])
    conv.register_structure_hook(Span, lambda v, _: Span(*v))

    # Every value class unstructures with its ``kind`` tag, wherever it appears (unions dispatch on the runtime class).
    def unstructure_factory(cl: type) -> Any:
        base: Any = make_dict_unstructure_fn(cl, conv, _cattrs_omit_if_default=True)
        kind = _KINDS[cl]
        return lambda obj: {"kind": kind, **base(obj)}

    conv.register_unstructure_hook_factory(lambda t: t in _KINDS, unstructure_factory)

    by_kind = {kind: cl for cl, kind in _KINDS.items()}
    structurers: dict[type, Any] = {cl: make_dict_structure_fn(cl, conv) for cl in _KINDS}

    def structure_value(obj: Any, _: Any) -> Any:
        if obj is None:
            return None
        data = dict(obj)
        cl = by_kind[data.pop("kind")]
        return structurers[cl](data, cl)

    value_unions = {nodes.Value, nodes.Value | None, nodes.Str | nodes.ParamRef, Optional[nodes.Value]}  # noqa: UP045
    conv.register_structure_hook_func(lambda t: t in value_unions, structure_value)
    return conv


converter = _make_converter()


def to_data(pipeline: nodes.Pipeline) -> dict[str, Any]:
    return {"ir_version": IR_VERSION, "pipeline": converter.unstructure(pipeline)}


def from_data(data: dict[str, Any]) -> nodes.Pipeline:
    version = data.get("ir_version")
    if version != IR_VERSION:
        raise ValueError(f"unsupported IR version {version!r} (this osirisc reads {IR_VERSION})")
    return converter.structure(data["pipeline"], nodes.Pipeline)


def to_json(pipeline: nodes.Pipeline, *, indent: int | None = 2) -> str:
    return json.dumps(to_data(pipeline), indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False)


def from_json(text: str) -> nodes.Pipeline:
    return from_data(json.loads(text))
