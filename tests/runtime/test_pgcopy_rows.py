"""pgcopy.encode_batch lays out binary COPY rows exactly: checked against a per-row reference built from the
per-column encodings, for mixes of fixed/variable width, NULLs, empty strings and sliced batches."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from osiris.runtime.connectors import pgcopy


def reference(batch: pa.RecordBatch, oids: list[int]) -> bytes:
    cols = [pgcopy.encode_column(batch.column(i), oid, "c") for i, oid in enumerate(oids)]
    starts = [np.concatenate(([0], np.cumsum(np.maximum(lengths, 0)))) for lengths, _ in cols]
    out = bytearray()
    for r in range(batch.num_rows):
        out += struct.pack(">h", len(oids))
        for (lengths, payload), start in zip(cols, starts, strict=True):
            out += struct.pack(">i", int(lengths[r]))
            out += payload[start[r] : start[r + 1]].tobytes()
    return bytes(out)


ints = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
texts = st.one_of(st.none(), st.text(max_size=8))
rows = st.lists(st.tuples(ints, texts, st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), texts), max_size=25)


@given(rows, st.integers(0, 3), st.permutations([0, 1, 2, 3]))
def test_encode_batch_matches_row_reference(data: list[tuple], skip: int, order: list[int]) -> None:
    columns = list(zip(*data, strict=True)) if data else [(), (), (), ()]
    types = [pa.int64(), pa.string(), pa.int32(), pa.string()]
    oid_of = [pgcopy.INT8, pgcopy.TEXT, pgcopy.INT4, pgcopy.VARCHAR]
    batch = pa.record_batch([pa.array(list(columns[i]), types[i]) for i in order], names=[f"c{i}" for i in order])
    batch = batch.slice(min(skip, batch.num_rows))
    oids = [oid_of[i] for i in order]
    assert pgcopy.encode_batch(batch, oids) == reference(batch, oids)


def test_all_fixed_width_batch_is_one_block() -> None:
    batch = pa.record_batch([pa.array([1, 2], pa.int64()), pa.array([True, False])], names=["a", "b"])
    assert pgcopy.encode_batch(batch, [pgcopy.INT8, pgcopy.BOOL]) == reference(batch, [pgcopy.INT8, pgcopy.BOOL])
    assert pgcopy.encode_batch(batch.slice(0, 0), [pgcopy.INT8, pgcopy.BOOL]) == b""
