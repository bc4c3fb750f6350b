"""Hypothesis strategies for plain JSON data that a JSON Schema accepts (the subset component specs use).

``from_schema(schema)`` understands ``type`` (one or a list), ``enum``, ``const``, ``minimum``/``maximum``,
``minLength``/``maxLength``, ``pattern``, ``items``/``minItems``/``maxItems``/``uniqueItems``, ``oneOf``/``anyOf``
and objects with ``properties``/``required``/``additionalProperties``. Every value drawn is checked against the
schema with ``jsonschema`` (a value the subset cannot promise is filtered out, so nothing invalid escapes).

>>> from_schema({"type": "integer", "minimum": 1, "maximum": 3}).example() in (1, 2, 3)
True
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from hypothesis import strategies as st

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=16)
_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
_JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | _TEXT


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "pattern" in schema:
        strategy = st.from_regex(schema["pattern"])
    else:
        strategy = st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
            min_size=schema.get("minLength", 0),
            max_size=max(schema.get("maxLength", 24), schema.get("minLength", 0)),
        )
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    return strategy.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))


def _integer(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.integers(schema.get("minimum", -(2**53)), schema.get("maximum", 2**53))


def _number(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)


def _array(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    items = from_schema(schema.get("items", {}))
    low = schema.get("minItems", 0)
    high = schema.get("maxItems", max(low, 3))
    unique = bool(schema.get("uniqueItems"))
    return st.lists(items, min_size=low, max_size=high, unique_by=_canonical if unique else None)


def _object(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    fixed = st.fixed_dictionaries(
        {k: from_schema(v) for k, v in props.items() if k in required},
        optional={k: from_schema(v) for k, v in props.items() if k not in required},
    )
    if extra is False:
        return fixed
    extra_values = from_schema(extra) if isinstance(extra, dict) else _JSON_LEAF
    more = st.dictionaries(_NAME.filter(lambda k: k not in props), extra_values, max_size=2)
    return st.tuples(fixed, more).map(lambda pair: {**pair[1], **pair[0]})


_BY_TYPE = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": lambda _s: st.booleans(),
    "null": lambda _s: st.none(),
    "array": _array,
    "object": _object,
}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def from_schema(schema: dict[str, Any] | bool) -> st.SearchStrategy[Any]:
    """Plain JSON values valid under ``schema`` (see the module docstring for the keywords understood)."""
    if schema is True or schema == {}:
        return _JSON_LEAF
    if schema is False:
        return st.nothing()
    assert isinstance(schema, dict)
    if "const" in schema:
        base: st.SearchStrategy[Any] = st.just(schema["const"])
    elif "enum" in schema:
        base = st.sampled_from(schema["enum"])
    elif "oneOf" in schema or "anyOf" in schema:
        base = st.one_of([from_schema(s) for s in schema.get("oneOf") or schema.get("anyOf") or ()])
    else:
        types = schema.get("type", "object" if "properties" in schema else None)
        if types is None:
            base = _JSON_LEAF
        else:
            names = [types] if isinstance(types, str) else list(types)
            base = st.one_of([_BY_TYPE[t](schema) for t in names])
    validator = jsonschema.Draft202012Validator(schema)
    return base.filter(validator.is_valid)
