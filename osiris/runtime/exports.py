"""Server-formatted export streams (docs/mysql-transfer.md, "CSV export"): how a fused extractor hands a file's
bytes to its writer: in-process (the handoff below) or through the ordinary channel.

The plan marks a fused pair (``export`` in both steps' entries, from the ``plan_exports`` pass). When the run
starts, the extractor decides from the columns it finds whether its server can write the exact bytes; if so it
returns an export stream instead of the rows: batches of one row, ``data`` (bytes of the file, in order) and
``rows`` (the table rows those bytes end; the count arrives with the last batch), under a schema whose metadata
names the format and the columns. The writer writes ``data`` as it comes; anything else it reads as rows.
``OSIRIS_EXPORT=off`` makes every extractor take the Arrow path (tests compare the two).

Handoff: the bytes need not pass through Python at all. The extractor ``offer``s its running export (a ``Handoff``)
under a token it names in the stream's schema; a writer in the same process ``claim``s it and has it write the
rest of the file straight into its temporary file, then reads the stream on (the extractor sends the row count,
or fails the step, once the handoff is ``done``). A producer never waits for its consumer: if no writer claims the
export within ``CLAIM_S`` (a writer in another process, a run with no free job slot) the extractor takes it back
and sends the bytes as batches.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Sequence
from typing import BinaryIO, Protocol

import pyarrow as pa

KEY = b"osiris.export"
COLUMNS = b"osiris.export.columns"
HANDOFF = b"osiris.export.handoff"
CLAIM_S = 1.0  # how long an offered export waits for its writer before its bytes go through the channel


def enabled() -> bool:
    return os.environ.get("OSIRIS_EXPORT", "").lower() not in ("off", "0", "false", "no")


def schema(fmt: str, columns: Sequence[str], token: str | None = None) -> pa.Schema:
    metadata = {KEY: fmt.encode(), COLUMNS: json.dumps(list(columns)).encode()}
    if token is not None:
        metadata[HANDOFF] = token.encode()
    return pa.schema([pa.field("data", pa.binary(), nullable=False), pa.field("rows", pa.int64(), False)], metadata)


def format_of(s: pa.Schema) -> str | None:
    """The export format of a stream's schema (None: a stream of rows)."""
    value = (s.metadata or {}).get(KEY)
    return value.decode() if value is not None else None


def columns_of(s: pa.Schema) -> list[str]:
    return list(json.loads((s.metadata or {})[COLUMNS]))


def batch(s: pa.Schema, data: bytes, rows: int = 0) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([data], pa.binary()), pa.array([rows], pa.int64())], schema=s)


def rows_of(b: pa.RecordBatch) -> int:
    """Table rows in a batch: its row count, or for an export stream the rows its bytes end."""
    if b.schema.metadata is None or KEY not in b.schema.metadata:
        return b.num_rows
    return int(b.column(1)[0].as_py()) if b.num_rows == 1 else sum(b.column(1).to_pylist())


class Handoff(Protocol):
    """A running export a writer can claim: ``write_into`` writes the rest of the file's bytes at ``out``'s
    position (``out`` is open for reading too), waits for the source to end and records the outcome for the
    extractor (it raises only on a failure of ``out`` itself); ``done`` is set when the writer is finished with it,
    whatever happened."""

    done: threading.Event

    def write_into(self, out: BinaryIO) -> None: ...


class _Offers:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._offers: dict[str, Handoff] = {}

    def offer(self, handoff: Handoff) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self._offers[token] = handoff
            self._lock.notify_all()
        return token

    def claim(self, token: str) -> Handoff | None:
        """The writer's side: the offered export (None: taken back, or offered in another process)."""
        with self._lock:
            handoff = self._offers.pop(token, None)
            self._lock.notify_all()
            return handoff

    def take_back(self, token: str, timeout: float) -> Handoff | None:
        """The extractor's side: wait up to ``timeout`` for a claim; the export if nobody claimed it."""
        with self._lock:
            self._lock.wait_for(lambda: token not in self._offers, timeout)
            return self._offers.pop(token, None)


_OFFERS = _Offers()
offer, claim, take_back = _OFFERS.offer, _OFFERS.claim, _OFFERS.take_back


def handoff_of(s: pa.Schema) -> str | None:
    """The token of an export offered for handoff (None: the bytes come as batches)."""
    value = (s.metadata or {}).get(HANDOFF)
    return value.decode() if value is not None else None
