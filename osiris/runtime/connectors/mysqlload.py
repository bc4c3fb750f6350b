"""Bulk load into MySQL/MariaDB with ``LOAD DATA LOCAL INFILE``: Arrow batches -> the server's default text format.

The file uses LOAD DATA's defaults (fields split by tab, lines by newline, ``\\`` escapes): NULL is written as
``\\N``, and backslash, tab and newline inside values are escaped, so NULL, '' and the text 'NULL' or '\\N' stay
distinct. Binary values are written as hex and decoded by ``UNHEX`` on the server (no charset conversion can touch
them). Every step is a vectorised Arrow kernel; ``encode`` returns None for a type this path does not handle, and
the caller keeps its INSERT path for those.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NULL = "\\N"


def _hex(arr: pa.Array) -> pa.Array:
    """Binary -> upper-case hex text, vectorised (no Arrow kernel does it, so through a byte lookup)."""
    arr = arr.cast(pa.binary())
    if arr.offset:
        arr = pa.concat_arrays([arr])
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[: n + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.empty(0, np.uint8)
    digits = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    out = np.empty(raw.size * 2, dtype=np.uint8)
    out[0::2] = digits[raw >> 4]
    out[1::2] = digits[raw & 15]
    doubled = ((offsets - offsets[0]) * 2).astype(np.int32)
    buffers = [arr.buffers()[0], pa.py_buffer(doubled), pa.py_buffer(out)]
    return pa.Array.from_buffers(pa.string(), n, buffers, null_count=arr.null_count)


def _escape(text: pa.Array) -> pa.Array:
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n")):
        text = pc.replace_substring(text, raw, escaped)
    return text


def column_text(arr: pa.Array) -> tuple[pa.Array, bool] | None:
    """One column as LOAD DATA field text (NULL -> ``\\N``) and whether the server must ``UNHEX`` it; None when
    the type has no exact text form here."""
    typ = arr.type
    if pa.types.is_dictionary(typ):
        arr, typ = arr.dictionary_decode(), typ.value_type
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ):
        return _hex(arr).fill_null(NULL), True
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        text = _escape(arr.cast(pa.string()))
    elif pa.types.is_boolean(typ):
        text = arr.cast(pa.int8()).cast(pa.string())
    elif pa.types.is_timestamp(typ):
        if typ.tz is not None:  # stored as UTC wall-clock time, like the INSERT path
            arr = arr.cast(pa.timestamp(typ.unit, "UTC")).cast(pa.timestamp(typ.unit))
        text = arr.cast(pa.string())
    elif pa.types.is_floating(typ) and typ.bit_width < 64:
        # float32's shortest text (3.4028235e+38 for its max) can lie beyond FLOAT's range when read back as a
        # decimal number, which MariaDB's strict mode refuses; the float64 text of the same value is exact
        text = arr.cast(pa.float64()).cast(pa.string())
    elif (
        pa.types.is_integer(typ)
        or pa.types.is_decimal(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_date(typ)
        or pa.types.is_time(typ)
        or pa.types.is_null(typ)
    ):
        text = arr.cast(pa.string())
    else:
        return None
    return text.fill_null(NULL), False


def encode(batch: pa.RecordBatch) -> tuple[bytes, list[bool]] | None:
    """The batch as LOAD DATA file content and, per column, whether it is hex; None when a type is unsupported."""
    columns = []
    hexed = []
    for arr in batch.columns:
        converted = column_text(arr)
        if converted is None:
            return None
        columns.append(converted[0])
        hexed.append(converted[1])
    if batch.num_rows == 0:
        return b"", hexed
    rows = pc.binary_join_element_wise(*columns, "\t")
    lines = pc.binary_join_element_wise(rows, pa.scalar(""), "\n")  # each row followed by a newline
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    if pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    assert data is not None
    return data[int(offsets[0]) : int(offsets[-1])].to_pybytes(), hexed


def load_sql(path: str, table: str, names: Sequence[str], hexed: Sequence[bool]) -> str:
    """``LOAD DATA LOCAL INFILE`` of ``path`` into ``table``; hex columns go through a variable and ``UNHEX``."""
    quoted = ["`" + n.replace("`", "``") + "`" for n in names]
    targets = [f"@osiris_v{i}" if h else q for i, (q, h) in enumerate(zip(quoted, hexed, strict=True))]
    sets = [f"{q} = UNHEX(@osiris_v{i})" for i, (q, h) in enumerate(zip(quoted, hexed, strict=True)) if h]
    literal = path.replace("\\", "\\\\").replace("'", "\\'")
    sql = f"LOAD DATA LOCAL INFILE '{literal}' INTO TABLE {table} CHARACTER SET utf8mb4 ({', '.join(targets)})"
    return sql + (f" SET {', '.join(sets)}" if sets else "")
