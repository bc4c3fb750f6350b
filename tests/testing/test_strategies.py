"""The strategies of osiris.testing generate what they claim and shrink to small examples."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from osiris.components.registry import default_registry
from osiris.testing.pipelines import SHAPES, shapes
from osiris.testing.schema_values import from_schema


@pytest.mark.parametrize("kind", SHAPES)
@given(data=__import__("hypothesis").strategies.data())
@settings(max_examples=15)
def test_shapes_have_their_kind(kind: str, data: object) -> None:
    shape = data.draw(shapes(kind))  # type: ignore[attr-defined]
    for i, node in enumerate(shape.nodes):
        assert all(j < i for j in node.needs)  # topological
        assert (node.role == "read") == (not node.needs)
    if kind == "fan_in":
        assert any(n.role == "transform" and len(n.needs) >= 2 for n in shape.nodes)
    if kind == "fan_out":
        assert sum(1 for n in shape.nodes if 0 in n.needs) >= 2
    if kind == "independent":
        assert sum(1 for n in shape.nodes if n.role == "read") >= 2


@pytest.mark.parametrize("spec", list(default_registry()), ids=lambda s: s.name)
@given(data=__import__("hypothesis").strategies.data())
@settings(max_examples=10, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
def test_from_schema_values_validate(spec: object, data: object) -> None:
    schema = spec.config_schema  # type: ignore[attr-defined]
    for name, prop in schema["properties"].items():
        value = data.draw(from_schema(prop), label=name)  # type: ignore[attr-defined]
        jsonschema.validate(value, prop)
