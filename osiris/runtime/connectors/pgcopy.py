"""Vectorised encoding of Arrow batches into PostgreSQL binary COPY data (numpy; no per-value Python).

Each column is encoded for the type of the target column (by type OID) into ``(lengths, payload)``: one int32
length per row (-1 for NULL) and the non-NULL values' bytes back to back; ``encode_batch`` interleaves the
columns into rows. NULL and '' stay distinct and no escaping is involved. Types without an encoder here are
reported by ``supported`` so the caller can take psycopg's per-row path instead.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_DAYS = 10957  # 2000-01-01 - 1970-01-01
PG_EPOCH_US = PG_EPOCH_DAYS * 86_400_000_000

BOOL, BYTEA, NAME, INT8, INT2, INT4, TEXT, JSON = 16, 17, 19, 20, 21, 23, 25, 114
FLOAT4, FLOAT8, BPCHAR, VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 700, 701, 1042, 1043, 1082, 1083, 1114, 1184
NUMERIC, UUID, JSONB = 1700, 2950, 3802
_FIXED = {INT2: (pa.int16(), ">i2"), INT4: (pa.int32(), ">i4"), INT8: (pa.int64(), ">i8"),
          FLOAT4: (pa.float32(), ">f4"), FLOAT8: (pa.float64(), ">f8")}  # fmt: skip
_TEXTUAL = {TEXT, VARCHAR, BPCHAR, NAME, JSON}
SUPPORTED = {*_FIXED, *_TEXTUAL, BOOL, BYTEA, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, NUMERIC, UUID, JSONB}

Encoded = tuple[np.ndarray, np.ndarray]  # (int32 lengths with -1 for NULL, uint8 payload)


def supported(oids: Sequence[int]) -> bool:
    return all(o in SUPPORTED for o in oids)


def _valid(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _fixed(values: np.ndarray, valid: np.ndarray, width: int) -> Encoded:
    lengths = np.where(valid, width, -1).astype(np.int32)
    return lengths, np.ascontiguousarray(values[valid]).view(np.uint8)


def _numbers(arr: pa.Array, arrow: pa.DataType, dtype: str) -> np.ndarray:
    filled = pc.cast(arr, arrow).fill_null(False if arrow == pa.bool_() else 0)
    return filled.to_numpy(zero_copy_only=False).astype(dtype)


def _varlen(arr: pa.Array, valid: np.ndarray) -> Encoded:
    arr = arr.drop_null() if arr.null_count else arr
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.binary() if pa.types.is_large_binary(arr.type) else pa.string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    payload = (
        np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.empty(0, np.uint8)
    )
    lengths = np.full(len(valid), -1, dtype=np.int32)
    lengths[valid] = np.diff(offsets)
    return lengths, payload


def _prefixed(enc: Encoded, prefix: int) -> Encoded:
    """Every non-NULL value with one byte in front (jsonb's version byte)."""
    lengths, payload = enc
    sizes = lengths[lengths >= 0]
    starts = np.concatenate(([0], np.cumsum(sizes + 1)[:-1])).astype(np.int64)
    out = np.full(int(sizes.sum()) + len(sizes), prefix, dtype=np.uint8)
    src = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    out[np.repeat(starts + 1 - src, sizes) + np.arange(payload.size)] = payload
    return np.where(lengths >= 0, lengths + 1, -1).astype(np.int32), out


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def _uuid(arr: pa.Array, valid: np.ndarray, name: str) -> Encoded:
    text = pc.replace_substring(pc.cast(arr, pa.string()).drop_null(), "-", "")
    if len(text) and (pc.min(pc.utf8_length(text)).as_py() != 32 or pc.max(pc.utf8_length(text)).as_py() != 32):
        raise ValueError(f"column '{name}': a value is not a UUID")
    _, payload = _varlen(text, np.ones(len(text), dtype=bool))
    nibbles = _HEX[payload].reshape(-1, 32)
    if (nibbles == 255).any():
        raise ValueError(f"column '{name}': a value is not a UUID")
    raw = (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).astype(np.uint8)
    return np.where(valid, 16, -1).astype(np.int32), raw.reshape(-1)


def numeric_bytes(value: decimal.Decimal) -> bytes:
    """One value in numeric's binary form (base-10000 digits), for values the vectorised path cannot hold."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{value} has no numeric representation")
    scale = max(-exponent, 0)
    unscaled = int("".join(map(str, digits)) or "0") * (10 ** max(exponent, 0))
    pad = (-scale) % 4
    unscaled *= 10**pad
    groups: list[int] = []
    while unscaled:
        unscaled, rest = divmod(unscaled, 10000)
        groups.append(rest)
    groups.reverse()
    weight = len(groups) - 1 - (scale + pad) // 4
    head = np.array([len(groups), weight, 0x4000 if sign and groups else 0, scale], dtype=">i2").tobytes()
    return head + np.array(groups, dtype=">i2").tobytes()


def _numeric(arr: pa.Array, valid: np.ndarray) -> Encoded:
    """decimal/integer -> numeric: 5 base-10000 digit groups per value when the magnitude fits in 64 bits."""
    typ = arr.type
    scale = typ.scale if pa.types.is_decimal(typ) else 0
    pad = (-scale) % 4
    magnitude: np.ndarray | None = None
    if pa.types.is_integer(typ):
        filled = arr.fill_null(0)
        if pa.types.is_unsigned_integer(typ):
            magnitude, negative = filled.cast(pa.uint64()).to_numpy(zero_copy_only=False), np.zeros(len(arr), bool)
        else:
            ints = filled.cast(pa.int64()).to_numpy(zero_copy_only=False)
            negative = ints < 0
            magnitude = (
                np.abs(ints.astype(object)).astype(np.uint64)
                if (ints == np.iinfo(np.int64).min).any()
                else np.abs(ints).astype(np.uint64)
            )
    elif pa.types.is_decimal128(typ):
        words = np.frombuffer(arr.buffers()[1], dtype=np.int64)[2 * arr.offset : 2 * (arr.offset + len(arr))]
        lo, hi = words[0::2], words[1::2]
        if np.all(hi == (lo >> 63)) and not (lo == np.iinfo(np.int64).min).any():
            negative = lo < 0
            magnitude = np.where(valid, np.abs(lo), 0).astype(np.uint64)
    if magnitude is None or (magnitude.size and int(magnitude.max()) >= (2**64 - 1) // 10**pad):
        values = arr.to_pylist()
        chunks = [numeric_bytes(decimal.Decimal(v)) for v in values if v is not None]
        lengths = np.full(len(arr), -1, dtype=np.int32)
        lengths[valid] = [len(c) for c in chunks]
        return lengths, np.frombuffer(b"".join(chunks), dtype=np.uint8)
    scaled = magnitude * np.uint64(10**pad)
    groups = 5
    digits = [(scaled // np.uint64(10 ** (4 * (groups - 1 - k)))) % np.uint64(10000) for k in range(groups)]
    n = len(arr)
    table = np.empty((n, 4 + groups), dtype=">i2")
    table[:, 0] = groups
    table[:, 1] = groups - 1 - (scale + pad) // 4
    table[:, 2] = np.where(negative & (magnitude > 0), 0x4000, 0)
    table[:, 3] = scale
    for k, d in enumerate(digits):
        table[:, 4 + k] = d.astype(np.int16)
    return _fixed(table.view(np.uint8).reshape(n, -1), valid, 2 * (4 + groups))


def encode_column(arr: pa.Array, oid: int, name: str) -> Encoded:
    """One Arrow column as binary COPY fields for a target column of type ``oid``."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    valid = _valid(arr)
    if oid in _FIXED:
        arrow, dtype = _FIXED[oid]
        return _fixed(_numbers(arr, arrow, dtype), valid, np.dtype(dtype).itemsize)
    if oid == BOOL:
        return _fixed(_numbers(arr, pa.bool_(), "u1"), valid, 1)
    if oid == DATE:
        days = pc.cast(arr, pa.date32()).cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
        return _fixed((days.astype(np.int64) - PG_EPOCH_DAYS).astype(">i4"), valid, 4)
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        unit = pa.timestamp("us", arr.type.tz) if pa.types.is_timestamp(arr.type) else pa.timestamp("us")
        micros = pc.cast(arr, unit).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return _fixed((micros - PG_EPOCH_US).astype(">i8"), valid, 8)
    if oid == TIME:
        micros = pc.cast(arr, pa.time64("us")).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return _fixed(micros.astype(">i8"), valid, 8)
    if oid == NUMERIC:
        if not (pa.types.is_decimal(arr.type) or pa.types.is_integer(arr.type)):
            arr = pc.cast(arr, pa.string())
            chunks = [numeric_bytes(decimal.Decimal(v)) for v in arr.to_pylist() if v is not None]
            lengths = np.full(len(arr), -1, dtype=np.int32)
            lengths[valid] = [len(c) for c in chunks]
            return lengths, np.frombuffer(b"".join(chunks), dtype=np.uint8)
        return _numeric(arr, valid)
    if oid == BYTEA:
        return _varlen(arr if pa.types.is_binary(arr.type) else pc.cast(arr, pa.binary()), valid)
    if oid == UUID:
        return _uuid(arr, valid, name)
    text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
    encoded = _varlen(text, valid)
    return _prefixed(encoded, 1) if oid == JSONB else encoded


def _rows_of(offsets: np.ndarray, data: np.ndarray, n: int) -> pa.Array:
    """``n`` byte strings (row pieces) over ``data`` at int64 ``offsets``, without copying."""
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def encode_batch(batch: pa.RecordBatch, oids: Sequence[int]) -> bytes:
    """The rows of ``batch`` as binary COPY tuples (without header/trailer).

    Runs of fixed-width fields (the field count, every length word, non-NULL fixed-width values) are laid side
    by side as one (rows x bytes) numpy matrix; variable-width values stay as they came. Arrow's C++
    ``binary_join_element_wise`` then concatenates the pieces row by row, outside the GIL."""
    n = batch.num_rows
    if n == 0:
        return b""
    parts: list[pa.Array] = []
    block = [np.tile(np.array([len(oids)], dtype=">i2").view(np.uint8), (n, 1))]

    def flush() -> None:
        matrix = np.ascontiguousarray(np.hstack(block) if len(block) > 1 else block[0])
        width = matrix.shape[1]
        parts.append(_rows_of(np.arange(0, width * n + 1, width, dtype=np.int64), matrix.reshape(-1), n))
        block.clear()

    for i, oid in enumerate(oids):
        lengths, payload = encode_column(batch.column(i), oid, batch.schema.field(i).name)
        block.append(lengths.astype(">i4").view(np.uint8).reshape(n, 4))
        width = int(lengths[0])
        if width >= 0 and payload.size == width * n and bool((lengths == width).all()):
            if width:
                block.append(payload.reshape(n, width))
            continue
        flush()
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.maximum(lengths, 0), out=offsets[1:])
        parts.append(_rows_of(offsets, payload, n))
    if block:
        flush()
    rows = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset : rows.offset + n + 1]
    return rows.buffers()[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()
