"""The driver contract: what every component driver implements and what the scheduler gives it.

A driver class is named in its spec (``x-runtime.driver: "osiris.components.csv_extractor.driver:Driver"``).
The scheduler constructs it once per step with the step's plan entry and a ``StepContext`` and calls ``run``:

- an extractor (mode read) gets no inputs and returns a ``pyarrow.RecordBatchReader`` that streams its rows;
- a processor (mode transform) gets one reader per input, keyed by the SQL name of the input (``df_x`` /
  ``input_df``), and returns a reader;
- a writer (mode write) gets its input reader(s) and returns None after the data is committed.

Readers are consumed lazily; nothing may materialise a whole table. Several input names may map to the SAME reader
object (``df_x`` and ``input_df`` of one upstream): group inputs by ``id(reader)`` and read each stream once. A reader
raises (``osiris.runtime.streams.UpstreamFailed``) when its upstream fails: let it propagate, roll back.
``ctx.progress(rows, bytes)`` counts rows a writer has loaded (shown live and in status.json as ``rows_written``);
``ctx.event("ddl", {"statements": [...]})`` records the SQL a writer executed in ``<run>/ddl/<step>.sql``; any other
``ctx.event(kind, data)`` becomes an event in events.jsonl. ``ctx.config`` holds resolved secrets, and every secret
value is also masked by the run's redactor in whatever the runtime writes or prints. A driver raises ``StepError`` (or
any exception) on failure; the scheduler turns that into a ``step_error`` event. Driver messages must never contain a
secret: ``ctx.connection`` holds resolved secrets and must not be logged or put in an exception message.

Cancellation (Ctrl-C, SIGTERM, a closed output): input readers then raise ``osiris.runtime.cancel.Cancelled``;
let it propagate and roll back, like any error. A call that can block for long registers what interrupts it:
``with ctx.cancel.hook(conn.cancel): ...``; a loop that reads no input checks ``ctx.cancel.check()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import pyarrow as pa

from osiris.runtime.cancel import CancelToken
from osiris.runtime.streams import DEFAULT_MEMORY_BUDGET


class StepError(Exception):
    """A failure the user can act on; the message names the target and the cause, never a credential."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@attrs.define
class StepContext:
    """Everything a driver may use besides its plan entry."""

    step_id: str
    config: Mapping[str, Any]  # the step's effective config with secrets resolved (never log it)
    connection: Mapping[str, Any] | None  # the resolved connection fields, or None
    run_dir: Path  # the run directory (artifacts may be written under run_dir / "artifacts" / step_id)
    base_dir: Path  # where relative file paths in the config are resolved (the pipeline's folder)
    batch_size: int = 100_000
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    progress: Callable[[int, int], None] = lambda rows, nbytes: None
    event: Callable[[str, Mapping[str, Any]], None] = lambda kind, data: None
    cancel: CancelToken = attrs.field(factory=CancelToken)  # the run's: check it, hook blocking calls to it
    # incremental.Cursor objects: an extractor's own cursor, and those a writer commits (osiris/runtime/incremental.py)
    incremental: tuple[Any, ...] = ()
    # Whether the step's consumers may run in this process at the same time (the local engine with >= 2 jobs), so
    # a consumer may take over the source's output (exports.Handoff); False on Ray and with --jobs 1.
    concurrent_consumers: bool = False


class Driver(Protocol):
    def __init__(self, step: Mapping[str, Any], ctx: StepContext) -> None: ...

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader | None: ...


def single_input(inputs: Mapping[str, pa.RecordBatchReader], component: str) -> pa.RecordBatchReader:
    """The one upstream stream of a writer. A single upstream is offered under several SQL names (``df_<id>`` and
    ``input_df``) as the same reader, so readers are counted by identity, not by name."""
    readers = {id(r): r for r in inputs.values()}
    if len(readers) != 1:
        raise StepError(f"{component} takes exactly one input, got {len(readers)}")
    return next(iter(readers.values()))
