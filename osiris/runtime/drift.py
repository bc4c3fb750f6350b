"""The run-time schema-drift check (docs/ddl.md): an extractor whose plan schema came from the schema lock must
still return the locked columns, or the step fails before any batch reaches a consumer (so no writer starts).

Called by the scheduler on the reader an extractor returns, before the reader is pumped into the channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.dialects.lock import check_drift
from osiris.runtime import exports
from osiris.runtime.driver import StepError

CODE = "OSR-E206"


class SchemaDrift(StepError):
    """The source no longer returns the columns recorded in the schema lock."""

    code = CODE


def check_schema(step: Mapping[str, Any], schema: pa.Schema) -> None:
    """Raise ``SchemaDrift`` when ``step``'s plan schema is from the lock and ``schema`` differs from it (an
    extractor that exports calls it with the schema of the rows its server formats)."""
    locked = step.get("schema")
    if not isinstance(locked, Mapping) or locked.get("source") != "lock" or step.get("mode") not in ("read", "extract"):
        return
    problem = check_drift(locked, schema, step.get("dialect"))  # the plan's: the spec's x-compiler.dialect
    if problem is not None:
        raise SchemaDrift(
            f"schema drift ({CODE}): the source no longer matches the schema lock: {problem}; nothing was read or "
            "written. Rerun `osirisc introspect FILE` if the change is intended, then rebuild"
        )


def check_stream(step: Mapping[str, Any], reader: pa.RecordBatchReader) -> None:
    """``check_schema`` of the reader an extractor returned (an export stream was checked by its extractor); on
    drift the reader is closed first, releasing the source's connection."""
    if exports.format_of(reader.schema) is not None:
        return
    try:
        check_schema(step, reader.schema)
    except SchemaDrift:
        reader.close()  # release the source's connection / reader threads: nothing will be read
        del reader  # the exception's traceback keeps this frame: it must not keep the reader (and its connection)
        raise
