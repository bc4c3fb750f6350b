"""A fast verdict for configs against the simple JSON Schemas of component specs, without importing jsonschema.

``verdict(schema, data)`` is True (valid) or False (invalid) when every keyword met on the way is one of
``KEYWORDS`` (and ``data`` is plain JSON data), else None: "ask jsonschema". validate_config skips jsonschema only
on True, so every error is still found and worded by jsonschema; a config that is new (a changed ``--param``) and
plainly valid costs no jsonschema import (~50 ms). The semantics are jsonschema's for Draft 2020-12 (bool is not a
number, 1.0 is an integer, ``pattern`` is ``re.search``); tests/passes/test_quick_schema.py compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

ANNOTATIONS = frozenset(("description", "default", "title", "examples", "$comment", "deprecated"))
KEYWORDS = frozenset(
    (
        "type",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "additionalProperties",
        "required",
        "oneOf",
    )
)
_SCALARS = (str, int, float, bool, type(None))


def _is_type(name: str, value: Any) -> bool | None:
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    return None


def _same_scalar(a: Any, b: Any) -> bool:
    """jsonschema's ``equal`` for scalars: True/False differ from 1/0, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def verdict(schema: Any, data: Any) -> bool | None:
    """True/False when decided with ``KEYWORDS`` only; None when jsonschema must judge."""
    if schema is True or schema is False:
        return schema
    if not isinstance(schema, dict) or not isinstance(data, (*_SCALARS, list, dict)):
        return None
    if any(k not in KEYWORDS and k not in ANNOTATIONS for k in schema):
        return None
    decided = True
    for key, arg in schema.items():
        ok = _keyword(key, arg, schema, data)
        if ok is None:
            return None
        decided = decided and ok
    return decided


def _keyword(key: str, arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    if key in ANNOTATIONS:
        return True
    check = _CHECKS.get(key)
    return check(arg, schema, data) if check is not None else None


def _type(arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    found = [_is_type(n, data) for n in (arg if isinstance(arg, list) else [arg])]
    return None if None in found else any(found)


def _enum(arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    if not isinstance(arg, list) or not isinstance(data, _SCALARS) or not all(isinstance(e, _SCALARS) for e in arg):
        return None
    return any(_same_scalar(e, data) for e in arg)


def _pattern(arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    if not isinstance(data, str):
        return True
    try:
        return re.search(arg, data) is not None
    except (re.error, TypeError):
        return None


def _unique(arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    if not arg or not isinstance(data, list):
        return True
    if not all(isinstance(v, str) for v in data):
        return None
    return len(set(data)) == len(data)


def _number(data: Any) -> bool:
    return isinstance(data, int | float) and not isinstance(data, bool)


def _additional(arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    if not isinstance(data, dict):
        return True
    return _all(verdict(arg, data[k]) for k in data if k not in schema.get("properties", {}))


def _one_of(arg: Any, schema: dict[str, Any], data: Any) -> bool | None:
    found = [verdict(sub, data) for sub in arg]
    return None if None in found else found.count(True) == 1


_Check = Callable[[Any, dict[str, Any], Any], bool | None]
_CHECKS: dict[str, _Check] = {  # one per keyword of KEYWORDS: True/False, or None for "ask jsonschema"
    "type": _type,
    "enum": _enum,
    "minLength": lambda arg, _, data: not isinstance(data, str) or len(data) >= arg,
    "maxLength": lambda arg, _, data: not isinstance(data, str) or len(data) <= arg,
    "pattern": _pattern,
    "minimum": lambda arg, _, data: not _number(data) or not data < arg,
    "maximum": lambda arg, _, data: not _number(data) or not data > arg,
    "minItems": lambda arg, _, data: not isinstance(data, list) or len(data) >= arg,
    "maxItems": lambda arg, _, data: not isinstance(data, list) or len(data) <= arg,
    "uniqueItems": _unique,
    "items": lambda arg, _, data: _all(verdict(arg, v) for v in data) if isinstance(data, list) else True,
    "required": lambda arg, _, data: not isinstance(data, dict) or all(k in data for k in arg),
    "properties": lambda arg, _, data: (
        _all(verdict(sub, data[name]) for name, sub in arg.items() if name in data) if isinstance(data, dict) else True
    ),
    "additionalProperties": _additional,
    "oneOf": _one_of,
}
assert set(_CHECKS) == KEYWORDS


def _all(verdicts: Any) -> bool | None:
    """Like ``all`` but None as soon as one is undecided."""
    decided = True
    for v in verdicts:
        if v is None:
            return None
        decided = decided and v
    return decided
