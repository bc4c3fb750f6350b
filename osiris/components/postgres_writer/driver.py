"""postgres.writer: execute the step's write plan (docs/ddl.md) in one transaction with a binary COPY load."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from osiris.runtime.connectors import pgwrite
from osiris.runtime.driver import StepContext, single_input


class Driver:
    """Writer: consumes its one input stream; returns after COMMIT (or raises after ROLLBACK)."""

    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        pgwrite.write(self.step, self.ctx, single_input(inputs, str(self.step.get("component", "postgres.writer"))))
