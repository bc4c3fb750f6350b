"""Test drivers (named in hand-written plans as ``rt_drivers:Name``): generators, sinks and failures."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from osiris.runtime.driver import StepContext, StepError

SCHEMA = pa.schema([("n", pa.int64())])


class _Base:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx
        self.config = ctx.config


class Numbers(_Base):
    """``batches`` fresh batches of ``rows`` int64 values 0,1,2...; ``sleep`` seconds per batch; ``fail_at``."""

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(SCHEMA, self._gen())

    def _gen(self) -> Iterator[pa.RecordBatch]:
        rows = int(self.config.get("rows", 1000))
        base = pa.array(range(rows), pa.int64())
        for i in range(int(self.config.get("batches", 10))):
            if self.config.get("fail_at") == i:
                raise StepError(f"source broke at batch {i} (token {self.config.get('token', '')})")
            time.sleep(float(self.config.get("sleep", 0)))
            yield pa.record_batch([pc.add(base, i * rows)], schema=SCHEMA)  # a new buffer every time


class Sink(_Base):
    """Waits ``delay`` seconds, then reads every input; reports rows and the sum of ``n`` as a ``sink`` event."""

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        time.sleep(float(self.config.get("delay", 0)))
        rows = total = 0
        for reader in {id(r): r for r in inputs.values()}.values():
            for batch in reader:
                rows += batch.num_rows
                total += pc.sum(batch.column("n")).as_py() or 0
                self.ctx.progress(batch.num_rows, batch.nbytes)
        self.ctx.event("sink", {"rows": rows, "sum": total})


class Boom(_Base):
    """A transform that reads ``after`` batches of its input and then fails, quoting ``token`` (a secret)."""

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        reader = next(iter(inputs.values()))
        return pa.RecordBatchReader.from_batches(reader.schema, self._gen(reader))

    def _gen(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(reader):
            if i >= int(self.config.get("after", 1)):
                raise RuntimeError(f"transform exploded; password={self.config.get('token')}")
            yield batch
