"""Input streams for the writer tests: many batches of rows with awkward text, and a way to spoil one row."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), ("s", pa.string()), ("v", pa.int64())])
AWKWARD = ["a\tb", "line\nbreak", "cr\r\nlf", "back\\slash", 'dq"uote', "it's", "NULL", "\\N", "😀 emoji", ""]

Row = tuple[int | None, str | None, int]


def text(i: int) -> str | None:
    """Row ``i``'s text: an awkward value, a NULL every 13th row."""
    return None if i % 13 == 0 else f"{AWKWARD[i % len(AWKWARD)]} {i}"


def stream(
    ids: range, sizes: list[int] | None = None, *, v: int = 1, last: Row | None = None, replace_text: str = ""
) -> pa.RecordBatchReader:
    """``ids`` as rows ``(id, text(id) + replace_text, v)`` in batches of ``sizes`` (default 100k); ``last``
    replaces the very last row (a bad value or a duplicate key in the last batch)."""
    sizes = sizes or [min(100_000, len(ids) - k) for k in range(0, len(ids), 100_000)]
    assert sum(sizes) == len(ids)

    def batches() -> Iterator[pa.RecordBatch]:
        start = 0
        for n, size in enumerate(sizes):
            chunk = ids[start : start + size]
            rows: list[Row] = [(i, _with(text(i), replace_text), v) for i in chunk]
            if last is not None and n == len(sizes) - 1:
                rows[-1] = last
            start += size
            cols = list(zip(*rows, strict=True))
            yield pa.record_batch([pa.array(c, f.type) for c, f in zip(cols, SCHEMA, strict=True)], schema=SCHEMA)

    return pa.RecordBatchReader.from_batches(SCHEMA, batches())


def _with(value: str | None, suffix: str) -> str | None:
    return None if value is None else value + suffix
