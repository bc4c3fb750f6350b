"""osiris.testing.tables generates what it claims: hostile values, empty tables, all-NULL columns, per-target limits."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris.testing.tables import TARGETS, arrow_tables, canonical, column_types, values_for

_MANY = settings(max_examples=80)


def _drawn(strategy: st.SearchStrategy[Any], n: int = 400) -> list[Any]:
    seen: list[Any] = []

    @settings(max_examples=n, database=None)
    @given(strategy)
    def collect(v: Any) -> None:
        seen.append(v)

    collect()
    return seen


@pytest.mark.parametrize("target", TARGETS)
@_MANY
@given(data=st.data())
def test_tables_hold_only_what_the_target_can_store(target: str, data: st.DataObject) -> None:
    table = data.draw(arrow_tables(target, key=True))
    assert table.schema.field("id").nullable is False and table.column("id").null_count == 0
    assert len(set(table.column("id").to_pylist())) == table.num_rows
    for field, column in zip(table.schema, table.columns, strict=True):
        values = [v for v in column.to_pylist() if v is not None]
        if pa.types.is_decimal(field.type):
            assert field.type.precision == 38
            assert target != "mysql" or field.type.scale <= 30
        if target == "csv":
            assert not pa.types.is_binary(field.type)
        if target == "mysql":
            assert all(math.isfinite(v) for v in values if isinstance(v, float))
            assert all(v.year >= 1000 for v in values if isinstance(v, dt.date))
        for v in values:
            assert "\x00" not in v if isinstance(v, str) else True


def test_hostile_edges_are_generated() -> None:
    ints = _drawn(values_for(pa.uint64()))
    assert {0, 2**64 - 1} <= set(ints)
    assert {-(2**63), 2**63 - 1} <= set(_drawn(values_for(pa.int64())))
    floats = _drawn(values_for(pa.float64()))
    assert any(math.isnan(f) for f in floats) and math.inf in floats and -math.inf in floats
    assert any(f == 0 and math.copysign(1, f) < 0 for f in floats)
    decs = _drawn(values_for(pa.decimal128(38, 10)))
    assert decimal.Decimal("9" * 28 + "." + "9" * 10) in decs
    assert all(len(d.as_tuple().digits) <= 38 and d.as_tuple().exponent == -10 for d in decs)
    texts = _drawn(values_for(pa.string()), 600)
    assert any(len(t) >= 1_000 for t in texts)
    assert any("\u202e" in t for t in texts) and any("\U0001f600" in t for t in texts)
    assert any("\x01" in t and "\x1f" in t for t in texts)
    assert any(d < dt.date(1970, 1, 1) for d in _drawn(values_for(pa.date32())))
    zoned = _drawn(values_for(pa.timestamp("us", tz="UTC")))
    assert all(v.tzinfo is not None for v in zoned) and any(v.microsecond for v in zoned)
    assert all(v.tzinfo is None for v in _drawn(values_for(pa.timestamp("us"))))


def test_empty_tables_and_all_null_columns_are_generated() -> None:
    tables = _drawn(arrow_tables(), 300)
    assert any(t.num_rows == 0 for t in tables)
    assert any(t.num_rows > 0 and any(c.null_count == t.num_rows for c in t.columns) for t in tables)
    kinds = {str(f.type) for t in tables for f in t.schema}
    assert {"uint64", "int64", "double", "string", "binary", "date32[day]", "timestamp[us, tz=UTC]"} <= kinds


def test_target_limits_and_unknown_target() -> None:
    assert "bytes" not in column_types("csv") and "bytes" in column_types("postgres")
    assert all(math.isfinite(f) for f in _drawn(values_for(pa.float32(), "mysql")))
    with pytest.raises(ValueError, match="unknown target"):
        column_types("oracle")


def test_canonical_compares_nan_signed_zero_and_decimal_scale() -> None:
    def t(v: Any, typ: pa.DataType) -> pa.Table:
        return pa.table({"x": pa.array([v], typ)})

    assert canonical(t(math.nan, pa.float64())) == canonical(t(math.nan, pa.float64()))
    assert canonical(t(0.0, pa.float64())) != canonical(t(-0.0, pa.float64()))
    one = decimal.Decimal("1")
    assert canonical(t(one, pa.decimal128(38, 0))) != canonical(t(one, pa.decimal128(38, 2)))


@given(arrow_tables(max_rows=30))
def test_tables_survive_arrow_ipc(table: pa.Table) -> None:
    """Every generated table is a valid Arrow table (serialises and compares equal to itself)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    back = pa.ipc.open_stream(sink.getvalue()).read_all()
    assert back.schema == table.schema and canonical(back) == canonical(table)
