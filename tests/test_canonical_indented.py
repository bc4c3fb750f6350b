"""canonical.dumps_file builds indented JSON itself: its bytes must be exactly the stdlib encoder's, for any data."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris import canonical


def stdlib(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False, default=canonical._default)
    return text + "\n"


def same_outcome(data: Any) -> None:
    """Equal text, or the same exception type and message."""
    try:
        expected = stdlib(data)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)) as info:
            canonical.dumps_file(data)
        assert str(info.value) == str(exc)
        return
    assert canonical.dumps_file(data) == expected


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8") | st.sampled_from('"\\\n\t\x00\x1f\u2028\ud7ff/'))
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@given(values)
def test_same_bytes_as_the_stdlib_encoder(data: Any) -> None:
    assert canonical.dumps_file(data) == stdlib(data)


def nested(depth: int) -> Any:
    """Lists and dicts ``depth`` deep (deeper than dumps_file builds itself)."""
    value: Any = [1]
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


class Colour(enum.IntEnum):
    RED = 1


class Label(enum.StrEnum):
    A = "a"


@pytest.mark.parametrize(
    "data",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [[]], "d": [{}]},
        {"when": dt.date(2024, 1, 2), "at": [dt.datetime(2024, 1, 2, 3, 4, 5)]},  # through _default
        {"s": frozenset({"b", "a"}), "t": (1, (2, 3))},
        {3: "int key", 2.5: "float key", None: "null key", True: "bool key"},
        {"a": 1, 2: "mixed keys"},  # stdlib: TypeError from sorting
        {"x": math.nan},
        [math.inf],
        {"o": object()},
        [Colour.RED, Label.A, True, False, 10**30, -0.0, 1e300, 5e-324],
        nested(120),
    ],
)
def test_edge_values_match_including_errors(data: Any) -> None:
    same_outcome(data)


def test_a_circular_value_is_the_stdlib_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    same_outcome(loop)
    same_outcome({"a": loop})
