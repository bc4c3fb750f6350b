"""Logical types: parsing, formatting, Arrow mapping, dialect mappings and identifier quoting (no database)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris.dialects import PlanError, columns_from_arrow, dialect, plan_write
from osiris.dialects.types import SIMPLE, TypeParseError, format_type, from_arrow, parse_type, to_arrow

logical_types = st.one_of(
    st.sampled_from(SIMPLE),
    st.integers(1, 76).flatmap(lambda p: st.integers(0, p).map(lambda s: f"decimal({p},{s})")),
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (" Decimal( 12, 2 ) ", "decimal(12,2)"),
        ("numeric(5)", "decimal(5,0)"),
        ("BIGINT", "int64"),
        ("timestamp with time zone", "timestamp[tz]"),
        ("timestamp[tz]", "timestamp[tz]"),
        ("TEXT", "string"),
    ],
)
def test_parse_aliases(text: str, canonical: str) -> None:
    assert format_type(parse_type(text)) == canonical


@pytest.mark.parametrize("bad", ["decimal(0,0)", "decimal(5,6)", "decimal(77,0)", "varchar2", "int128", ""])
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(TypeParseError):
        parse_type(bad)


@given(logical_types)
def test_format_parse_round_trip(text: str) -> None:
    assert format_type(parse_type(text)) == text


@given(logical_types)
def test_arrow_round_trip(text: str) -> None:
    back = from_arrow(to_arrow(text))
    assert back == ("string" if text in ("json", "uuid") else text)


def test_arrow_other_types() -> None:
    schema = pa.schema(
        [
            pa.field("a", pa.large_string()),
            pa.field("b", pa.timestamp("ns", tz="Europe/Prague")),
            pa.field("c", pa.list_(pa.int64())),
            pa.field("d", pa.int32(), nullable=False),
        ]
    )
    assert columns_from_arrow(schema) == [
        {"name": "a", "type": "string", "nullable": True},
        {"name": "b", "type": "timestamp[tz]", "nullable": True},
        {"name": "c", "type": "json", "nullable": True},
        {"name": "d", "type": "int32", "nullable": False},
    ]


@pytest.mark.parametrize(
    ("d", "logical", "native", "lossy"),
    [
        ("postgres", "int64", "BIGINT", False),
        ("postgres", "uint64", "NUMERIC(20,0)", False),
        ("postgres", "decimal(12,2)", "NUMERIC(12,2)", False),
        ("postgres", "timestamp[tz]", "TIMESTAMPTZ", False),
        ("mysql", "timestamp[tz]", "DATETIME(6)", True),
        ("mysql", "decimal(70,2)", "DECIMAL(65,2)", True),
        ("mysql", "uint64", "BIGINT UNSIGNED", False),
        ("duckdb", "decimal(40,2)", "DOUBLE", True),
        ("duckdb", "decimal(39,0)", "HUGEINT", False),  # DuckDB's HUGEINT/UHUGEINT read back
        ("duckdb", "decimal(39,1)", "DOUBLE", True),
        ("postgres", "decimal(39,0)", "NUMERIC(39,0)", False),
        ("mysql", "decimal(39,0)", "DECIMAL(39,0)", False),
        ("duckdb", "uint64", "UBIGINT", False),
    ],
)
def test_native_mapping(d: str, logical: str, native: str, lossy: bool) -> None:
    sql, reason = dialect(d).to_native(logical)
    assert sql == native
    assert (reason is not None) is lossy


@pytest.mark.parametrize(
    ("d", "name", "quoted"),
    [("postgres", 'we"ird', '"we""ird"'), ("mysql", "we`ird", "`we``ird`"), ("duckdb", "Mixed Case", '"Mixed Case"')],
)
def test_quoting(d: str, name: str, quoted: str) -> None:
    assert dialect(d).quote_ident(name) == quoted


@pytest.mark.parametrize("bad", ["", "nul\x00", "x" * 64, " padded", "new\nline"])
def test_unquotable_names(bad: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_write("postgres", {"schema": None, "table": bad}, "append", [{"name": "a", "type": "int32"}])
    assert info.value.field == "table"


def test_plan_errors() -> None:
    cols = [{"name": "a", "type": "int32"}]
    with pytest.raises(PlanError, match="needs a primary_key"):
        plan_write("postgres", {"table": "t"}, "upsert", cols)
    with pytest.raises(PlanError, match="not among the input columns") as info:
        plan_write("mysql", {"table": "t"}, "upsert", cols, ["b"])
    assert info.value.field == "primary_key"
    with pytest.raises(PlanError, match="unknown type"):
        plan_write("duckdb", {"table": "t"}, "append", [{"name": "a", "type": "integer128"}])


def test_unknown_columns_plan_has_no_statements() -> None:
    plan = plan_write("postgres", {"schema": "s", "table": "t"}, "replace", None, "id")
    assert plan["columns"] is None and plan["statements"] is None
    assert plan["load_table"]["qualified"] == '"pg_temp"."osiris_stg_t"'


def test_plan_is_deterministic_json() -> None:
    cols = [{"name": "id", "type": "int64", "nullable": False}, {"name": "ts", "type": "timestamp[tz]"}]
    a = json.dumps(plan_write("mysql", {"schema": "db", "table": "t"}, "upsert", cols, "id"), sort_keys=True)
    b = json.dumps(plan_write("mysql", {"schema": "db", "table": "t"}, "upsert", cols, ["id"]), sort_keys=True)
    assert a == b
    assert "stored as DATETIME(6) in UTC" in a
