"""Arrow tables with random schemas and hostile values, optionally restricted to what a target can hold.

``arrow_tables(target=...)`` draws a ``pyarrow.Table`` whose columns take types from ``column_types(target)`` and
values from ``values_for(type, target)``: integers at their bounds (int64 and uint64 included), ``decimal128(38, s)``
at full precision, NaN, +-inf and -0.0, text with RTL marks, combining and 4-byte characters and every control
character except NUL, very long strings, bytes with NUL, dates before 1970 (back to year 1), microsecond
timestamps with and without a time zone (UTC), times of day and bools. Tables may be empty and columns may be
entirely NULL. ``target`` is one of ``TARGETS``; for a target the strategy only draws what that target's writer
can store at all (e.g. MariaDB: no NaN/inf, scale <= 30, dates from year 1000); what it stores *differently* is
the documented loss in docs/types.md, applied by ``osiris.testing.conformance.expected_round_trip``.

``canonical(table)`` is a comparable form of the rows (NaN equal to NaN, -0.0 distinct from 0.0).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

TARGETS = ("arrow", "csv", "duckdb", "postgres", "mysql")

_INTS = {
    "int8": (pa.int8(), -(2**7), 2**7 - 1),
    "int16": (pa.int16(), -(2**15), 2**15 - 1),
    "int32": (pa.int32(), -(2**31), 2**31 - 1),
    "int64": (pa.int64(), -(2**63), 2**63 - 1),
    "uint8": (pa.uint8(), 0, 2**8 - 1),
    "uint16": (pa.uint16(), 0, 2**16 - 1),
    "uint32": (pa.uint32(), 0, 2**32 - 1),
    "uint64": (pa.uint64(), 0, 2**64 - 1),
}
_SCALAR_TYPES: dict[str, pa.DataType] = {
    **{k: v[0] for k, v in _INTS.items()},
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "bytes": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamp_tz": pa.timestamp("us", tz="UTC"),
}
_EXCLUDED: dict[str, frozenset[str]] = {
    "arrow": frozenset(),
    "csv": frozenset({"bytes"}),  # a CSV file is text: raw bytes have no lossless spelling in it
    "duckdb": frozenset(),
    "postgres": frozenset(),
    "mysql": frozenset(),
}
_MAX_SCALE = {"mysql": 30}  # MariaDB DECIMAL(p, s) has s <= 30
_MIN_YEAR = {"mysql": 1000}  # MariaDB DATE/DATETIME: '1000-01-01' .. '9999-12-31' is the supported range
_NO_NONFINITE = frozenset({"mysql"})  # MariaDB DOUBLE/FLOAT reject NaN and +-inf

RTL = "\u05d0\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200f\u202e\u2067"
_HOSTILE_TEXT = (
    "",
    " ",
    "NULL",
    "\\N",
    '"',
    'a,b\n"c"\r\n',
    RTL,
    "e\u0301\u0327",  # combining marks
    "\U0001f600\U0001d11e\U00010348",  # 4-byte UTF-8 (utf8mb4 on MariaDB)
    "".join(chr(c) for c in range(1, 32)) + "\x7f\x85",  # every C0 control but NUL, DEL, NEL
    "\ufeffbom",
    "\u2028\u2029",
)
_EXACT = decimal.Context(prec=80)
_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")


def column_types(target: str = "arrow") -> list[str]:
    """The column kinds ``arrow_tables(target)`` draws from (``decimal`` stands for decimal128(38, s))."""
    _check(target)
    return [k for k in [*_SCALAR_TYPES, "decimal"] if k not in _EXCLUDED[target]]


def _check(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r} (expected one of {', '.join(TARGETS)})")


def decimal_types(target: str = "arrow") -> st.SearchStrategy[pa.DataType]:
    """``decimal128(38, s)``: full precision, any scale the target keeps."""
    return st.integers(0, min(38, _MAX_SCALE.get(target, 38))).map(lambda s: pa.decimal128(38, s))


def arrow_types(target: str = "arrow") -> st.SearchStrategy[pa.DataType]:
    decimals = decimal_types(target)
    return st.sampled_from(column_types(target)).flatmap(
        lambda k: decimals if k == "decimal" else st.just(_SCALAR_TYPES[k])
    )


def _texts() -> st.SearchStrategy[str]:
    short = st.text(_CHARS, max_size=20) | st.sampled_from(_HOSTILE_TEXT)
    piece = st.sampled_from(_HOSTILE_TEXT[1:]) | st.text(_CHARS, min_size=1, max_size=5)
    long = st.tuples(piece, st.sampled_from((1_000, 70_000)) | st.integers(256, 4_096))
    return short | long.map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])


def values_for(dtype: pa.DataType, target: str = "arrow") -> st.SearchStrategy[Any]:
    """Python values of ``dtype`` (never None) that ``target`` can store, biased to the hostile edges."""
    _check(target)
    min_year = _MIN_YEAR.get(target, 1)
    if pa.types.is_integer(dtype):
        lo, hi = next((v[1], v[2]) for v in _INTS.values() if v[0] == dtype)
        return st.sampled_from((lo, hi, 0, -1 if lo < 0 else 1, lo + 1, hi - 1)) | st.integers(lo, hi)
    if pa.types.is_floating(dtype):
        finite = target in _NO_NONFINITE
        if dtype == pa.float32():
            edge, floats = [0.0, -0.0, 1.401298464324817e-45, 3.4028234663852886e38, 0.5], st.floats(width=32)
        else:
            edge, floats = [0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1], st.floats(width=64)
        if finite:
            return st.sampled_from(edge) | floats.filter(math.isfinite)
        return st.sampled_from([*edge, math.nan, math.inf, -math.inf]) | floats
    if pa.types.is_decimal(dtype):
        top = 10**dtype.precision - 1
        unscaled = st.sampled_from((top, -top, 0, 1, -1)) | st.integers(-top, top)
        return unscaled.map(lambda u: decimal.Decimal(u).scaleb(-dtype.scale, _EXACT))
    if pa.types.is_boolean(dtype):
        return st.booleans()
    if pa.types.is_string(dtype):
        return _texts()
    if pa.types.is_binary(dtype):
        return st.binary(max_size=40) | st.sampled_from((b"", b"\x00", b"\xff\xfe\x00\\N", bytes(range(256))))
    if pa.types.is_date(dtype):
        first = dt.date(min_year, 1, 1)
        days = st.sampled_from((first, dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(9999, 12, 31)))
        return days | st.dates(first, dt.date(1969, 12, 31)) | st.dates(first)
    if pa.types.is_time(dtype):
        return st.sampled_from((dt.time(0), dt.time(23, 59, 59, 999999))) | st.times()
    if pa.types.is_timestamp(dtype):
        start = dt.datetime(min_year, 1, 1)
        end = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
        moments = (start, end, dt.datetime(1969, 12, 31, 23, 59, 59, 999999), dt.datetime(1970, 1, 1))
        naive = st.sampled_from(moments) | st.datetimes(start, end)
        if dtype.tz is None:
            return naive
        return naive.map(lambda v: v.replace(tzinfo=dt.UTC))
    raise ValueError(f"no value strategy for {dtype}")


def columns(dtype: pa.DataType, rows: int, target: str = "arrow") -> st.SearchStrategy[pa.Array]:
    """A column of ``rows`` values: all NULL, no NULL, or some NULL."""
    values = values_for(dtype, target)
    cells = st.one_of(
        st.just([None] * rows),
        st.lists(values, min_size=rows, max_size=rows),
        st.lists(st.none() | values, min_size=rows, max_size=rows),
    )
    return cells.map(lambda cs: pa.array(cs, dtype))


@st.composite
def arrow_tables(
    draw: st.DrawFn,
    target: str = "arrow",
    *,
    min_columns: int = 1,
    max_columns: int = 6,
    max_rows: int = 12,
    key: bool = False,
) -> pa.Table:
    """A table of random schema and hostile values. ``key=True`` adds a first column ``id`` (int64, NOT NULL,
    unique) that a writer can use as primary key."""
    _check(target)
    n_cols = draw(st.integers(min_columns, max_columns))
    rows = draw(st.integers(0, max_rows) | st.just(0))
    types = draw(st.lists(arrow_types(target), min_size=n_cols, max_size=n_cols))
    fields, arrays = [], []
    if key:
        ids = draw(st.lists(values_for(pa.int64(), target), min_size=rows, max_size=rows, unique=True))
        fields.append(pa.field("id", pa.int64(), nullable=False))
        arrays.append(pa.array(ids, pa.int64()))
    for i, dtype in enumerate(types):
        fields.append(pa.field(f"c{i}_{_kind(dtype)}", dtype))
        arrays.append(draw(columns(dtype, rows, target)))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


@st.composite
def tables_like(draw: st.DrawFn, schema: pa.Schema, ids: list[int], target: str = "arrow") -> pa.Table:
    """A table of ``schema`` whose first column ``id`` holds ``ids`` and the other columns fresh hostile values."""
    arrays = [pa.array(ids, schema.field(0).type)]
    arrays += [draw(columns(f.type, len(ids), target)) for f in list(schema)[1:]]
    return pa.Table.from_arrays(arrays, schema=schema)


def _kind(dtype: pa.DataType) -> str:
    if pa.types.is_decimal(dtype):
        return f"dec{dtype.scale}"
    return next((k for k, t in _SCALAR_TYPES.items() if t == dtype), "x")


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, decimal.Decimal):
        return ("dec", str(value))  # keeps the scale: Decimal('1.0') and Decimal('1.00') differ
    return value


def canonical(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as tuples in which equal means equal (NaN == NaN, -0.0 != 0.0, decimals compared with their scale)."""
    return [tuple(_cell(v) for v in row.values()) for row in table.to_pylist()]
