"""JSON rows to Arrow (osiris/runtime/connectors/jsonrows.py): what the first page fixes, and the clear errors when a
later page does not fit (nothing is dropped or coerced into another type silently)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from osiris.runtime.connectors.jsonrows import Rows, declared_columns
from osiris.runtime.driver import StepError


def test_inferred_types_and_batches_across_pages() -> None:
    rows = Rows("t", 3)
    out = list(rows.add([{"a": 1, "b": None, "c": {"d": True}}, {"a": 2, "b": "x", "c": {"d": False}}], 1))
    out += list(rows.add([{"a": 3, "b": 4.5, "c": {"d": None}, "e": None}][:1], 2))
    assert out and rows.schema == pa.schema([("a", pa.int64()), ("b", pa.string()), ("c.d", pa.bool_())])
    out += list(rows.add([{"a": 4, "b": [1, "z"], "c": None}], 3)) + list(rows.finish(3))
    table = pa.Table.from_batches(out)
    assert table.to_pylist() == [
        {"a": 1, "b": None, "c.d": True},
        {"a": 2, "b": "x", "c.d": False},
        {"a": 3, "b": "4.5", "c.d": None},  # a column null on page 1 is text: later values land as text
        {"a": 4, "b": '[1,"z"]', "c.d": None},
    ]


def test_a_later_value_of_another_type_is_an_error_naming_field_and_page() -> None:
    rows = Rows("t", 10)
    list(rows.add([{"a": 1}], 1))
    with pytest.raises(StepError, match=r"field 'a' holds str 'x' on page 2, but the first page made it int64"):
        list(rows.add([{"a": "x"}], 2))
        list(rows.finish(2))


def test_a_field_first_seen_later_is_an_error_not_dropped() -> None:
    rows = Rows("t", 10)
    list(rows.add([{"a": 1}], 1))
    with pytest.raises(StepError, match="field 'b' first appears on page 2"):
        list(rows.add([{"a": 2, "b": 1}], 2))


def test_declared_not_null_and_bad_values_are_errors() -> None:
    rows = Rows("t", 10, declared=declared_columns([{"name": "a", "type": "int64", "nullable": False}]))
    list(rows.add([{"a": None}], 1))
    with pytest.raises(StepError, match="column 'a' is declared nullable: false but is null"):
        list(rows.finish(1))
    rows = Rows("t", 10, declared=declared_columns({"t": "timestamp[tz]"}))
    list(rows.add([{"t": "not a time"}], 1))
    with pytest.raises(StepError, match=r"column 't' \(declared timestamp\[us, tz=UTC\]\) on page 1"):
        list(rows.finish(1))
