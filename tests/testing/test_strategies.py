"""The strategies of osiris.testing generate what they claim and shrink to small examples."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import HealthCheck, find, given, settings

from osiris.components.registry import default_registry
from osiris.testing.pipelines import SHAPES, GeneratedPipeline, shapes, valid_pipelines
from osiris.testing.schema_values import from_schema

_FIND = settings(max_examples=500, suppress_health_check=list(HealthCheck), database=None)


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


def test_shrinks_to_the_smallest_pipeline_with_a_writer() -> None:
    g: GeneratedPipeline = find(
        valid_pipelines(), lambda g: any(s.component == "postgres.writer" for s in g.pipeline.steps), settings=_FIND
    )
    assert len(g.pipeline.steps) <= 3 and g.pipeline.steps[-1].component == "postgres.writer"


def test_shrinks_fan_in_to_two_reads() -> None:
    g: GeneratedPipeline = find(valid_pipelines("fan_in"), lambda g: True, settings=_FIND)
    assert [s.mode for s in g.pipeline.steps] == ["read", "read", "transform", "write"]
