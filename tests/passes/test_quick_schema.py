"""quick_schema.verdict agrees with jsonschema whenever it decides, and decides the configs of built-in specs."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.components.registry import default_registry
from osiris.passes.quick_schema import ANNOTATIONS, KEYWORDS, verdict
from osiris.testing.schema_values import from_schema

SPECS = [default_registry().get(n) for n in default_registry().names()]
_LEAF = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, -1, 1.0, 0.0, 2.5, 10**6, 100_000, 100_001])
    | st.integers(-5, 5)
    | st.sampled_from(["", "a", ",", ";;", "utf-8", "UTF-8", "@mysql.db", "@x", "append", "replace", "id", "1"])
)


@functools.cache
def _validator(name: str) -> Any:
    """One jsonschema validator per spec (building one per example dominated the test's time)."""
    spec = default_registry().get(name)
    assert spec is not None
    return jsonschema.Draft202012Validator(spec.config_schema)


def _any_value() -> st.SearchStrategy[Any]:
    return st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner))


@functools.cache
def _valid(name: str) -> st.SearchStrategy[Any]:
    return from_schema(_validator(name).schema)


@functools.cache
def _configs(name: str) -> st.SearchStrategy[Any]:
    """Valid configs, and configs with some keys set to arbitrary (mostly wrong) values, or unknown keys."""
    schema = _validator(name).schema
    keys = st.sampled_from([*schema.get("properties", {}), "no_such_key"])
    broken = st.tuples(from_schema(schema), st.dictionaries(keys, _any_value(), max_size=3)).map(
        lambda pair: {**pair[0], **pair[1]}
    )
    return from_schema(schema) | broken | st.dictionaries(keys, _any_value(), max_size=4)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # examples: the profile's
@given(data=st.data())
def test_agrees_with_jsonschema(spec: Any, data: st.DataObject) -> None:
    schema = spec.config_schema
    config = data.draw(_configs(spec.name))
    quick = verdict(schema, config)
    if quick is not None:
        assert quick == _validator(spec.name).is_valid(config), config


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_decides_valid_configs_of_built_in_specs(spec: Any, data: st.DataObject) -> None:
    config = data.draw(_valid(spec.name))
    props = spec.config_schema.get("properties", {})
    odd = {k for k, sub in props.items() if any(w not in KEYWORDS | ANNOTATIONS for w in sub)}  # e.g. a YAML slip
    decided = verdict(spec.config_schema, config)
    if set(spec.config_schema) - KEYWORDS - ANNOTATIONS:  # e.g. graphql's if/then refusals: jsonschema decides
        assert decided is not False, config  # never a wrong "invalid"; None hands the config to jsonschema
    elif not odd & set(config):
        assert decided is True, config


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "integer"}, 1.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"enum": [1, "a"]}, True, False),
        ({"enum": [True]}, 1, False),
        ({"enum": [1]}, 1.0, True),
        ({"minimum": 1}, True, True),  # a bool is not a number: minimum does not apply
        ({"minLength": 2}, 5, True),
        ({"pattern": "^a"}, "ba", False),
        ({"pattern": "b"}, "ab", True),  # re.search, not a full match
        ({"type": "array", "uniqueItems": True}, ["a", "a"], False),
        ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "ab", False),  # valid under both
        ({"oneOf": [{"type": "string"}, {"type": "array"}]}, ["x"], True),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x", "b": 1}, False),
        ({"type": "object", "required": ["a"]}, {}, False),
        (True, 1, True),
        (False, 1, False),
    ],
)
def test_edge_cases_match_jsonschema(schema: Any, value: Any, expected: bool) -> None:
    assert verdict(schema, value) is expected
    assert jsonschema.Draft202012Validator(schema).is_valid(value) is expected


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"const": 1}, 1),
        ({"anyOf": [{"type": "string"}]}, "x"),
        ({"format": "email"}, "x"),
        ({"$ref": "#/$defs/x", "$defs": {"x": {}}}, 1),
        ({"properties": {"a": {"allOf": [{}]}}}, {"a": 1}),
        ({"enum": [[1]]}, [1]),
        ({"type": "array", "uniqueItems": True}, [1, True]),
        ({"type": "string"}, object()),
    ],
)
def test_anything_else_is_left_to_jsonschema(schema: Any, value: Any) -> None:
    assert verdict(schema, value) is None
