"""The libyaml fast path of the OML frontend composes exactly what PyYAML's Python composer does, or is not taken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from osiris.frontend.yaml_nodes import _compose_fast

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for d in ("tests/fixtures", "examples") for p in (ROOT / d).rglob("*.yaml"))


def _walk(node: Node) -> Iterator[tuple[object, ...]]:
    s, e = node.start_mark, node.end_mark
    style = (node.style or None) if isinstance(node, ScalarNode) else None
    value = node.value if isinstance(node, ScalarNode) else None
    yield type(node).__name__, node.tag, value, style, s.index, s.line, s.column, e.index, e.line, e.column
    children = [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else None
    for child in children if children is not None else node.value if isinstance(node, SequenceNode) else ():
        yield from _walk(child)


def _python(text: str) -> list[tuple[object, ...]]:
    node = yaml.SafeLoader(text).get_single_node()
    assert node is not None
    return list(_walk(node))


def test_fixtures_and_examples_agree() -> None:
    taken = 0
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        fast = _compose_fast(text)
        if fast is not None:
            taken += 1
            assert list(_walk(fast)) == _python(text), path
    assert taken >= 20  # the fast path is really used for ordinary block-style pipelines


BLOCK = "oml_version: '0.1.0'\nname: x\nsteps:\n  - id: a\n    config:\n      query: |\n        SELECT 1\n"


@pytest.mark.parametrize(
    "text",
    [
        BLOCK.rstrip("\n"),  # no final line break: libyaml's end marks differ
        BLOCK.replace("name: x", "name:\tx"),  # libyaml accepts a tab PyYAML rejects
        "\ufeff" + BLOCK,  # BOM: libyaml's indexes skip it
        BLOCK + "flow: {a: 1}\n",  # flow collections: several known differences
        BLOCK + "k: >#x\n",  # a block scalar header PyYAML rejects
        BLOCK + "a: &x [1]\nb: *x\n",  # aliases
        "- a\n- b\n",  # not a mapping
        BLOCK + "---\nname: y\n",  # two documents
        BLOCK + "bad: [\n",  # a syntax error
    ],
)
def test_fast_path_declines(text: str) -> None:
    assert _compose_fast(text) is None


def test_fast_path_taken_for_block_style() -> None:
    node = _compose_fast(BLOCK)
    assert node is not None and list(_walk(node)) == _python(BLOCK)
