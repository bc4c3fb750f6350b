"""Exact values through Arrow: DuckDB results Arrow cannot carry as they are, plain decimal text, DuckDB loads.

DuckDB exports some types wrongly or in a form no target takes: HUGEINT and UHUGEINT as ``decimal128(38, 0)``
(a 39-digit value overflows the precision, a UHUGEINT above 2**127 comes out negative), INTERVAL as
``month_day_nano_interval``, LIST / ARRAY / STRUCT / MAP / UNION as nested Arrow, TIME WITH TIME ZONE as ``time64``
without its offset, BIT and BIGNUM as internal bytes. ``DuckOutput.of`` selects each such column in a form that is
exact (docs/types.md): HUGEINT/UHUGEINT as ``decimal256(39, 0)``, nested values as JSON text, the others as DuckDB's
own text; TIMESTAMP_NS values become microseconds (the logical type's unit) when that is exact, else the run fails.
Arrow's decimal-to-text cast writes small values in E notation (``0E-30``); ``decimal_text`` does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# The logical type and Arrow type of DuckDB's 128-bit integers: 39 digits hold both ranges exactly.
WIDE_INT = pa.decimal256(39, 0)
AS_TEXT = ("INTERVAL", "TIME WITH TIME ZONE", "TIMETZ", "TIME_NS", "BIT", "BITSTRING", "BIGNUM", "VARINT")
HUGEINT_RANGE = (-(2**127), 2**127 - 1)


def _nested(duck_type: str) -> bool:
    return duck_type.endswith("]") or duck_type.startswith(("STRUCT", "MAP", "UNION"))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DuckOutput:
    """How to read a DuckDB result exactly: ``select`` (SQL expressions over it, None when it can be read as it
    is) and ``wide``, the HUGEINT/UHUGEINT columns (cast to ``decimal256(39, 0)`` in Arrow; UHUGEINT from text)."""

    select: list[str] | None
    wide: tuple[str, ...]

    @staticmethod
    def of(names: Sequence[str], duck_types: Sequence[str]) -> DuckOutput:
        """Raises ValueError naming a column that occurs twice (DuckDB names are case-insensitive)."""
        seen: dict[str, str] = {}
        for name in names:
            if name.lower() in seen:
                twice = f"'{name}'" if seen[name.lower()] == name else f"'{seen[name.lower()]}' and '{name}'"
                raise ValueError(
                    f"the query returns the column {twice} twice (DuckDB names ignore case): "
                    "give every output column its own name with AS"
                )
            seen[name.lower()] = name
        select, wide, changed = [], [], False
        for name, duck in zip(names, duck_types, strict=True):
            kind = str(duck).upper()
            if kind == "HUGEINT":  # exported as decimal128(38, 0) holding the right 128 bits: widened in Arrow
                select.append(quote(name))
                wide.append(name)
            elif kind == "UHUGEINT" or kind in AS_TEXT:  # a UHUGEINT's bits would read as a signed number
                select.append(f"CAST({quote(name)} AS VARCHAR) AS {quote(name)}")
                if kind == "UHUGEINT":
                    wide.append(name)
                changed = True
            elif _nested(kind):
                select.append(f"CAST(to_json({quote(name)}) AS VARCHAR) AS {quote(name)}")
                changed = True
            else:
                select.append(quote(name))
        return DuckOutput(select if changed else None, tuple(wide))

    def schema(self, schema: pa.Schema) -> pa.Schema:
        """The Arrow schema of the exact batches (``cast``): HUGEINT/UHUGEINT columns as ``decimal256(39, 0)``,
        nanosecond timestamps in microseconds."""
        fields = []
        for f in schema:
            if f.name in self.wide:
                fields.append(f.with_type(WIDE_INT))
            elif pa.types.is_timestamp(f.type) and f.type.unit == "ns":
                fields.append(f.with_type(pa.timestamp("us", f.type.tz)))
            else:
                fields.append(f)
        return pa.schema(fields, metadata=schema.metadata)


def cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` cast to ``schema`` exactly; a value the cast would change raises ValueError naming the column."""
    if batch.schema == schema:
        return batch
    arrays = []
    for arr, field in zip(batch.columns, schema, strict=True):
        try:
            arrays.append(arr.cast(field.type))
        except pa.ArrowInvalid:
            rounded = pc.cast(arr, field.type, safe=False)
            changed = pc.not_equal(pc.cast(rounded, arr.type, safe=False), arr)
            bad = arr.filter(changed)[0] if pc.any(changed).as_py() else None
            value = "" if bad is None else f" {pc.cast(bad, pa.string()).as_py()}"
            raise ValueError(
                f"column '{field.name}': value{value} does not fit {field.type} exactly "
                "(osiris timestamps hold microseconds)"
                if pa.types.is_timestamp(field.type)
                else f"column '{field.name}': value{value} does not fit {field.type} exactly"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def decimal_text(arr: pa.Array) -> pa.Array:
    """Decimal values as plain text (``0.000000000000000000000000000000``, ``-0.0000000001``; never E notation)."""
    typ = arr.type
    if typ.scale < 0:  # whole numbers: exact at scale 0
        arr, typ = arr.cast(pa.decimal256(typ.precision - typ.scale, 0)), pa.decimal256(typ.precision - typ.scale, 0)
    if typ.scale <= 6:  # Arrow writes E notation only below an adjusted exponent of -6
        return arr.cast(pa.string())
    # The unscaled integer (the same bits read at scale 0) as text, then the point put in by hand.
    raw_type = pa.decimal128(38, 0) if pa.types.is_decimal128(typ) else pa.decimal256(76, 0)
    raw = pa.Array.from_buffers(raw_type, len(arr), arr.buffers(), arr.null_count, arr.offset)
    digits = raw.cast(pa.string())
    padded = pc.utf8_lpad(pc.utf8_ltrim(digits, "-"), typ.scale + 1, "0")
    sign = pc.if_else(pc.starts_with(digits, "-"), "-", "")
    whole = pc.utf8_slice_codeunits(padded, 0, -typ.scale)
    fraction = pc.utf8_slice_codeunits(padded, -typ.scale)
    return pc.binary_join_element_wise(sign, whole, ".", fraction, "")


def first_outside(arr: pa.Array, low: int, high: int) -> Any:
    """The first value of a decimal/integer array outside ``[low, high]``, or None when all fit."""
    lo, hi = pa.scalar(Decimal(low), arr.type), pa.scalar(Decimal(high), arr.type)
    outside = pc.or_(pc.less(arr, lo), pc.greater(arr, hi))
    if not pc.any(outside).as_py():
        return None
    return arr.filter(outside)[0].as_py()


def duckdb_loadable(batch: pa.RecordBatch, natives: Sequence[str]) -> pa.RecordBatch:
    """``batch`` in a form DuckDB reads exactly into columns of the DuckDB types ``natives``.

    DuckDB cannot read ``decimal256`` (precision above 38): such a column goes in as plain decimal text, which
    DuckDB casts exactly to HUGEINT and correctly rounded to DOUBLE (the plan's types for it, docs/ddl.md). A value
    outside HUGEINT's range raises ValueError naming the column and the value."""
    arrays, changed = list(batch.columns), False
    for i, (arr, native) in enumerate(zip(batch.columns, natives, strict=True)):
        if not pa.types.is_decimal256(arr.type):
            continue
        if native.upper() == "HUGEINT":
            bad = first_outside(arr, *HUGEINT_RANGE)
            if bad is not None:
                name = batch.schema.field(i).name
                raise ValueError(f"column '{name}': value {bad} is outside DuckDB HUGEINT (-2**127 .. 2**127-1)")
        arrays[i] = decimal_text(arr)
        changed = True
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _natives(schema: pa.Schema, columns: Sequence[dict[str, Any]] | None) -> list[str]:
    """The DuckDB type of each field: planned (``columns``) or, without a plan, its logical type's."""
    from osiris.dialects.duckdb import DIALECT
    from osiris.dialects.types import from_arrow

    planned = {str(c["name"]): str(c["type"]) for c in columns or ()}
    return [DIALECT.to_native(planned.get(f.name) or from_arrow(f.type))[0] for f in schema]


def duckdb_reader(
    reader: pa.RecordBatchReader, columns: Sequence[dict[str, Any]] | None = None
) -> pa.RecordBatchReader:
    """``reader`` as DuckDB can load it exactly into the columns planned as ``columns`` (``duckdb_loadable``;
    without ``columns``, into the DuckDB types of the fields' logical types)."""
    if not any(pa.types.is_decimal256(f.type) for f in reader.schema):
        return reader
    natives = _natives(reader.schema, columns)
    fields = [f.with_type(pa.string()) if pa.types.is_decimal256(f.type) else f for f in reader.schema]
    schema = pa.schema(fields, metadata=reader.schema.metadata)
    return pa.RecordBatchReader.from_batches(schema, (duckdb_loadable(b, natives) for b in reader))


def duckdb_select(schema: pa.Schema) -> str:
    """The select list that gives the fields of ``schema`` their DuckDB types over a ``duckdb_reader`` of it
    (the text of a decimal256 column cast back to its number type)."""
    casts = [
        f"CAST({quote(f.name)} AS {native}) AS {quote(f.name)}"
        for f, native in zip(schema, _natives(schema, None), strict=True)
        if pa.types.is_decimal256(f.type)
    ]
    return f"* REPLACE ({', '.join(casts)})" if casts else "*"
