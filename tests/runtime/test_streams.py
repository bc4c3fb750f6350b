"""Channels: every consumer sees every batch in order; past the budget batches spill; memory stays flat."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from osiris.runtime.streams import Channel, MemoryBudget, SpillError, UpstreamFailed, pump

SCHEMA = pa.schema([("n", pa.int64())])


def _source(batches: int, rows: int) -> pa.RecordBatchReader:
    base = pa.array(range(rows), pa.int64())

    def gen():  # type: ignore[no-untyped-def]
        for i in range(batches):
            yield pa.record_batch([pc.add(base, i * rows)], schema=SCHEMA)

    return pa.RecordBatchReader.from_batches(SCHEMA, gen())


def _tee_run(tmp_path: Path, batches: int, rows: int, budget_bytes: int) -> tuple[int, list[int], MemoryBudget]:
    """One producer, two consumers; the second starts only after the producer finished. Returns peak Arrow bytes."""
    budget = MemoryBudget(budget_bytes)
    chans = [Channel("src", budget, tmp_path, lambda r, b: None) for _ in range(2)]
    sums = [0, 0]
    peak = [pa.total_allocated_bytes()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], pa.total_allocated_bytes())
            time.sleep(0.002)

    def consume(i: int, wait: threading.Event | None) -> None:
        if wait is not None:
            wait.wait()
        for batch in chans[i].reader():
            sums[i] += pc.sum(batch.column(0)).as_py()
            peak[0] = max(peak[0], pa.total_allocated_bytes())

    produced = threading.Event()
    sampler = threading.Thread(target=sample)
    sampler.start()
    before = pa.total_allocated_bytes()
    consumers = [threading.Thread(target=consume, args=(0, None)), threading.Thread(target=consume, args=(1, produced))]
    for t in consumers:
        t.start()
    pump(_source(batches, rows), chans, lambda r, b: None)
    for ch in chans:
        ch.close()
    produced.set()
    for t in consumers:
        t.join()
    done.set()
    sampler.join()
    return peak[0] - before, sums, budget


def test_tee_delivers_everything_to_every_consumer_in_order(tmp_path: Path) -> None:
    budget = MemoryBudget(10_000)  # tiny: most batches spill
    chans = [Channel("src", budget, tmp_path, lambda r, b: None) for _ in range(3)]
    pump(_source(50, 100), chans, lambda r, b: None)
    for ch in chans:
        ch.close()
    for ch in chans:
        values = pa.Table.from_batches(list(ch.reader())).column("n").to_pylist()
        assert values == list(range(5000))
    assert budget.used == 0
    assert list(tmp_path.iterdir()) == []  # spill files are removed once read


def test_peak_memory_does_not_grow_with_table_size(tmp_path: Path) -> None:
    rows = 32_768  # 256 KiB per batch
    small_peak, small_sums, _ = _tee_run(tmp_path / "a", 32, rows, 4 << 20)  # 8 MiB table
    big_peak, big_sums, budget = _tee_run(tmp_path / "b", 256, rows, 4 << 20)  # 64 MiB table
    n = 256 * rows
    assert big_sums == [n * (n - 1) // 2] * 2
    assert small_sums[0] == small_sums[1]
    assert budget.peak <= 4 << 20
    # the table is 64 MiB and the slow consumer read it after the producer finished: without spilling the peak
    # would be >= 64 MiB. With a 4 MiB budget it stays near budget + a few batches, whatever the table size.
    assert big_peak < 16 << 20, big_peak
    assert big_peak < small_peak + (6 << 20), (small_peak, big_peak)


def test_failed_producer_raises_upstream_failed_in_consumers(tmp_path: Path) -> None:
    ch = Channel("src", MemoryBudget(1 << 20), tmp_path, lambda r, b: None)
    ch.open(SCHEMA)
    ch.put(pa.record_batch([pa.array([1], pa.int64())], schema=SCHEMA))
    ch.close(failed=True)
    reader = ch.reader()
    assert reader.read_next_batch().num_rows == 1
    with pytest.raises(UpstreamFailed, match="upstream step 'src' failed"):
        reader.read_next_batch()


def test_abandoned_channel_frees_its_budget(tmp_path: Path) -> None:
    budget = MemoryBudget(1 << 30)
    ch = Channel("src", budget, tmp_path, lambda r, b: None)
    pump(_source(10, 1000), [ch], lambda r, b: None)
    assert budget.used == 10 * 8000
    ch.abandon()
    assert budget.used == 0


def test_a_spill_that_cannot_be_written_names_the_file_and_the_cause(tmp_path: Path) -> None:
    """Disk full or a file size limit (``ulimit -f``) while spilling: before, the producer failed with the file
    system's bare "OSError: [Errno 27] Error writing bytes to file", as if its own source had failed."""
    import resource

    batch = next(iter(_source(1, 100_000)))  # 800 KB
    chan = Channel("src", MemoryBudget(0), tmp_path / "spill", lambda r, b: None)
    chan.open(SCHEMA)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))  # Python ignores SIGXFSZ: writes fail with EFBIG
    try:
        with pytest.raises(
            SpillError,
            match=r"cannot spill batches past the memory budget to .*/spill/spill-\d+\.arrow: File too large",
        ):
            chan.put(batch)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    (tmp_path / "file").write_text("")  # the spill folder cannot be created
    chan = Channel("src", MemoryBudget(0), tmp_path / "file" / "spill", lambda r, b: None)
    chan.open(SCHEMA)
    with pytest.raises(SpillError, match=r"to .*/file/spill/spill-\d+\.arrow: Not a directory"):
        chan.put(batch)
