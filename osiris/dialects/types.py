"""Logical types: parse and format type strings, and map them to and from Arrow.

Type strings: ``int8``..``int64``, ``uint8``..``uint64``, ``decimal(p,s)``, ``float32``, ``float64``, ``bool``,
``string``, ``date``, ``time``, ``timestamp``, ``timestamp[tz]``, ``bytes``, ``json``, ``uuid``.

>>> format_type(parse_type(" Decimal( 12, 2 ) "))
'decimal(12,2)'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow is imported on first use: the compiler parses types without it (start-up time)
    import pyarrow as pa

INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
SIMPLE: tuple[str, ...] = (*INTS, "float32", "float64", "bool", "string", "date", "time", "timestamp")
SIMPLE += ("timestamp[tz]", "bytes", "json", "uuid")
MAX_DECIMAL_PRECISION = 76

_DECIMAL_RE = re.compile(r"^decimal\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")
_ALIASES = {
    "int": "int32",
    "integer": "int32",
    "bigint": "int64",
    "smallint": "int16",
    "tinyint": "int8",
    "float": "float64",
    "double": "float64",
    "real": "float32",
    "boolean": "bool",
    "text": "string",
    "str": "string",
    "varchar": "string",
    "binary": "bytes",
    "blob": "bytes",
    "datetime": "timestamp",
    "timestamptz": "timestamp[tz]",
    "timestamp with time zone": "timestamp[tz]",
}


class TypeParseError(ValueError):
    """A type string that is not a logical type; the message lists what is accepted."""


@dataclass(frozen=True)
class LogicalType:
    """One logical type: ``name`` is a SIMPLE name or ``decimal`` (with ``precision`` and ``scale``)."""

    name: str
    precision: int = 0
    scale: int = 0

    def __str__(self) -> str:
        return format_type(self)


def parse_type(text: str) -> LogicalType:
    """Parse a type string (case and spaces are forgiven; common SQL aliases accepted)."""
    norm = " ".join(text.strip().lower().split())
    norm = _ALIASES.get(norm, norm)
    if norm in SIMPLE:
        return LogicalType(norm)
    m = _DECIMAL_RE.match(norm.replace(" ", "")) or _DECIMAL_RE.match(norm.replace("numeric", "decimal"))
    if m:
        p, s = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= p <= MAX_DECIMAL_PRECISION or s > p:
            raise TypeParseError(
                f"decimal({p},{s}): need 1 <= precision <= {MAX_DECIMAL_PRECISION} and scale <= precision"
            )
        return LogicalType("decimal", p, s)
    raise TypeParseError(f"unknown type '{text}' (expected one of {', '.join(SIMPLE)} or decimal(p,s))")


def format_type(t: LogicalType) -> str:
    return f"decimal({t.precision},{t.scale})" if t.name == "decimal" else t.name


def normalize(text: str) -> str:
    """The canonical spelling of a type string."""
    return format_type(parse_type(text))


@functools.cache
def _to_arrow() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "uint8": pa.uint8(),
        "uint16": pa.uint16(),
        "uint32": pa.uint32(),
        "uint64": pa.uint64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "timestamp": pa.timestamp("us"),
        "timestamp[tz]": pa.timestamp("us", tz="UTC"),
        "bytes": pa.binary(),
        "json": pa.string(),
        "uuid": pa.string(),
    }


def to_arrow(t: LogicalType | str) -> pa.DataType:
    import pyarrow as pa

    lt = parse_type(t) if isinstance(t, str) else t
    if lt.name == "decimal":
        return pa.decimal128(lt.precision, lt.scale) if lt.precision <= 38 else pa.decimal256(lt.precision, lt.scale)
    return _to_arrow()[lt.name]


def from_arrow(dt: pa.DataType) -> str:
    """The logical type of an Arrow type; unknown Arrow types (lists, structs...) become ``json``."""
    import pyarrow as pa

    for name, arrow in _to_arrow().items():
        if name in ("json", "uuid"):
            continue
        if dt == arrow:
            return name
    if pa.types.is_decimal(dt):
        return f"decimal({dt.precision},{dt.scale})"
    if pa.types.is_timestamp(dt):
        return "timestamp[tz]" if dt.tz else "timestamp"
    if pa.types.is_time(dt):
        return "time"
    if pa.types.is_date(dt):
        return "date"
    if pa.types.is_string(dt) or pa.types.is_large_string(dt) or pa.types.is_string_view(dt):
        return "string"
    if pa.types.is_binary(dt) or pa.types.is_large_binary(dt) or pa.types.is_fixed_size_binary(dt):
        return "bytes"
    if pa.types.is_float16(dt):
        return "float32"
    if pa.types.is_null(dt):
        return "string"
    if pa.types.is_dictionary(dt):
        return from_arrow(dt.value_type)
    return "json"


def columns_from_arrow(schema: pa.Schema) -> list[dict[str, object]]:
    """Plan columns (``{name, type, nullable}``) from an Arrow schema, for writers whose schema was unknown."""
    return [{"name": f.name, "type": from_arrow(f.type), "nullable": bool(f.nullable)} for f in schema]
