"""Streams between steps: a producer tees its Arrow batches into one ``Channel`` per consumer.

A producer never waits for a consumer (so no arrangement of branches can deadlock): each batch goes to every
channel's in-memory queue while the run's ``MemoryBudget`` allows, and otherwise is appended to an Arrow IPC spill
file in the run's temp directory. A consumer reads its channel as a ``pyarrow.RecordBatchReader`` and blocks
only until the next batch arrives. Peak memory is bounded by the budget plus the batches in flight, whatever the
table size.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from osiris.runtime.cancel import Cancelled, CancelToken
from osiris.runtime.exports import rows_of


class SpillError(Exception):
    """A batch could not be spilled to the run's ``tmp/`` (disk full, quota, file size limit): the producer fails
    with this message, which names the spill file and the cause, instead of the file system's bare error."""


class UpstreamFailed(Exception):
    """Raised in a consumer when the step feeding it failed; the scheduler reports the consumer as skipped."""

    def __init__(self, step_id: str):
        super().__init__(f"upstream step '{step_id}' failed")
        self.step_id = step_id


# The default budget of a run: it only has to hold the few batches in flight on each edge (a 100,000-row batch of
# the benchmarks' tables is 5-15 MiB); more just lets batches pile up in memory in front of a slow consumer
# instead of in the spill file (the page cache), raising peak RSS for no throughput (bench/README.md, write modes).
DEFAULT_MEMORY_BUDGET = 64 * 1024 * 1024


class MemoryBudget:
    """Bytes of batches held in memory by all channels of a run, capped at ``limit``."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._lock = threading.Lock()

    def try_take(self, nbytes: int) -> bool:
        with self._lock:
            if self.used + nbytes > self.limit:
                return False
            self.used += nbytes
            self.peak = max(self.peak, self.used)
            return True

    def give_back(self, nbytes: int) -> None:
        with self._lock:
            self.used -= nbytes


class _Segment:
    """A run of spilled batches in one IPC stream file; closed (readable) once the consumer reaches it."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        self.sink = pa.OSFile(str(path), "wb")
        self.writer: pa.ipc.RecordBatchStreamWriter | None = pa.ipc.new_stream(self.sink, schema)
        self.rows = 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
            self.writer = None


_ids = itertools.count()


def _spill_error(path: Path, exc: OSError) -> SpillError:
    cause = os.strerror(exc.errno) if exc.errno else str(exc)
    return SpillError(
        f"cannot spill batches past the memory budget to {path}: {cause} "
        "(free space where the run record is written, or raise --memory-budget)"
    )


class Channel:
    """One producer -> one consumer queue of batches, spilling to disk past the shared budget."""

    def __init__(self, producer: str, budget: MemoryBudget, spill_dir: Path, on_read: Callable[[int, int], None]):
        self.producer = producer
        self.budget = budget
        self.spill_dir = spill_dir
        self.on_read = on_read  # called with (rows, bytes) for each batch the consumer reads
        self.schema: pa.Schema | None = None
        self.spilled_bytes = 0
        self._items: collections.deque[pa.RecordBatch | _Segment] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._failed = False
        self._cancelled: str | None = None
        self._abandoned = False

    # -- producer side --------------------------------------------------------------------------------------
    def open(self, schema: pa.Schema) -> None:
        with self._cond:
            self.schema = schema
            self._cond.notify_all()

    def put(self, batch: pa.RecordBatch) -> None:
        with self._cond:
            if self._cancelled is not None:
                raise Cancelled(self._cancelled)
            if self._abandoned:
                return
            tail = self._items[-1] if self._items else None
            if isinstance(tail, _Segment) and tail.writer is not None:
                self._spill(tail, batch)
            elif self.budget.try_take(batch.nbytes):
                self._items.append(batch)
            else:
                assert self.schema is not None
                path = self.spill_dir / f"spill-{next(_ids)}.arrow"
                try:
                    self.spill_dir.mkdir(parents=True, exist_ok=True)
                    segment = _Segment(path, self.schema)
                except OSError as exc:
                    raise _spill_error(path, exc) from None
                self._items.append(segment)
                self._spill(segment, batch)
            self._cond.notify_all()

    def _spill(self, segment: _Segment, batch: pa.RecordBatch) -> None:
        assert segment.writer is not None
        try:
            segment.writer.write_batch(batch)
        except OSError as exc:
            raise _spill_error(segment.path, exc) from None
        segment.rows += batch.num_rows
        self.spilled_bytes += batch.nbytes

    def close(self, *, failed: bool = False) -> None:
        with self._cond:
            self._closed = True
            self._failed = failed
            self._cond.notify_all()

    def cancel(self, reason: str) -> None:
        """The run was cancelled: both sides get ``Cancelled`` at their next call, a waiting consumer at once."""
        with self._cond:
            self._cancelled = reason
            self._closed = True
            self._failed = True
            self._cond.notify_all()

    # -- consumer side --------------------------------------------------------------------------------------
    def wait_schema(self) -> pa.Schema:
        with self._cond:
            while self.schema is None and not self._closed:
                self._cond.wait()
            if self._cancelled is not None:
                raise Cancelled(self._cancelled)
            if self.schema is None:
                raise UpstreamFailed(self.producer)
            return self.schema

    def _next_item(self) -> pa.RecordBatch | _Segment | None:
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if self._cancelled is not None:
                raise Cancelled(self._cancelled)
            if self._items:
                item = self._items.popleft()
                if isinstance(item, _Segment):
                    item.close()  # the producer starts a new segment for later batches
                return item
            if self._failed:
                raise UpstreamFailed(self.producer)
            return None

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            while (item := self._next_item()) is not None:
                if isinstance(item, pa.RecordBatch):
                    self.budget.give_back(item.nbytes)
                    self.on_read(rows_of(item), item.nbytes)
                    yield item
                    continue
                with pa.OSFile(str(item.path), "rb") as source:
                    for batch in pa.ipc.open_stream(source):
                        if self._cancelled is not None:
                            raise Cancelled(self._cancelled)
                        self.on_read(rows_of(batch), batch.nbytes)
                        yield batch
                item.path.unlink(missing_ok=True)
        finally:
            self.abandon()

    def reader(self) -> pa.RecordBatchReader:
        """The consumer's view: a lazy reader; blocks until the producer has a schema."""
        return pa.RecordBatchReader.from_batches(self.wait_schema(), self._batches())

    def abandon(self) -> None:
        """The consumer is done (or gave up): drop whatever is still queued and ignore later batches."""
        with self._cond:
            self._abandoned = True
            while self._items:
                item = self._items.popleft()
                if isinstance(item, pa.RecordBatch):
                    self.budget.give_back(item.nbytes)
                else:
                    item.close()
                    item.path.unlink(missing_ok=True)


def pump(
    reader: pa.RecordBatchReader,
    channels: list[Channel],
    on_batch: Callable[[int, int], None],
    cancel: CancelToken | None = None,
) -> None:
    """Read ``reader`` to the end, teeing every batch into ``channels``; stops with ``Cancelled`` between batches
    when ``cancel`` was requested. The caller closes the channels (failed or not) once it has recorded the
    outcome, so a consumer woken by the close can see why."""
    for ch in channels:
        ch.open(reader.schema)
    for batch in reader:
        if cancel is not None:
            cancel.check()
        on_batch(rows_of(batch), batch.nbytes)
        for ch in channels:
            ch.put(batch)
