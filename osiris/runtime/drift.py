"""The run-time schema-drift check (docs/ddl.md): an extractor whose plan schema came from the schema lock must
still return the locked columns, or the step fails before any batch reaches a consumer (so no writer starts).

Called by the scheduler on the reader an extractor returns, before the reader is pumped into the channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.dialects.lock import check_drift
from osiris.runtime.driver import StepError

CODE = "OSR-E206"


class SchemaDrift(StepError):
    """The source no longer returns the columns recorded in the schema lock."""

    code = CODE


def check_stream(step: Mapping[str, Any], reader: pa.RecordBatchReader) -> None:
    """Raise ``SchemaDrift`` when ``step``'s plan schema is from the lock and ``reader``'s schema differs from it."""
    schema = step.get("schema")
    if not isinstance(schema, Mapping) or schema.get("source") != "lock" or step.get("mode") not in ("read", "extract"):
        return
    problem = check_drift(schema, reader.schema, step.get("dialect"))  # the plan's: the spec's x-compiler.dialect
    if problem is not None:
        reader.close()  # release the source's connection / reader threads: nothing will be read
        del reader  # the exception's traceback keeps this frame: it must not keep the reader (and its connection)
        raise SchemaDrift(
            f"schema drift ({CODE}): the source no longer matches the schema lock: {problem}; nothing was read or "
            "written. Rerun `osirisc introspect FILE` if the change is intended, then rebuild"
        )
