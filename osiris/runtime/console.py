"""What a run prints: a live rich table on a TTY (rows and rows/s per step), plain log lines otherwise, and
with ``--format json`` only the final status on stdout. Everything printed has passed the redactor."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported only for the live display (a TTY): ~25 ms of start-up otherwise
    from rich.live import Live
    from rich.table import Table

from osiris.runtime.scheduler import StepState


def _line(record: Mapping[str, Any]) -> str | None:
    kind, step = record["event"], record.get("step")
    if kind == "run_start":
        return f"run {record['run_id']}: {record['pipeline']} ({record['steps']} steps)"
    if kind == "step_start":
        return f"[{step}] start ({record['component']})"
    if kind == "step_complete":
        moved = [f"{record[k]} rows {k[5:]}" for k in ("rows_in", "rows_out") if record[k]]
        return f"[{step}] ok in {record['duration_ms']} ms: {', '.join(moved) or '0 rows'}"
    if kind == "step_error":
        return f"[{step}] FAILED: {record['error']}"
    if kind == "step_skipped":
        return f"[{step}] skipped: {record['reason']}"
    if kind == "step_cancelled":
        return f"[{step}] cancelled: {record['reason']}"
    if kind == "run_cancelled":
        return f"run cancelled ({record['reason']})"
    if kind == "run_complete":
        if record["ok"]:
            return f"run ok in {record['duration_ms']} ms"
        if record.get("cancelled"):
            return f"run CANCELLED in {record['duration_ms']} ms"
        return f"run FAILED ({', '.join(record['failed_steps'])}) in {record['duration_ms']} ms"
    return None


class Reporter:
    """Listens to run events; ``live`` uses a rich display fed by the scheduler's step states."""

    def __init__(self, fmt: str = "text", stream: IO[str] | None = None, live: bool | None = None):
        self.fmt = fmt
        self.stream = stream or sys.stderr or Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115 (2>&-)
        self.live_enabled = fmt == "text" and (_isatty(self.stream) if live is None else live)
        self.states: Mapping[str, StepState] = {}
        self._live: Live | None = None
        self._lock = threading.Lock()

    def watch(self, states: Mapping[str, StepState]) -> None:
        self.states = states
        if self.live_enabled:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False)
            self._live = Live(get_renderable=self._table, console=console, refresh_per_second=4, transient=False)
            self._live.start()

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for col in ("step", "status", "rows", "rows/s"):
            table.add_column(col, justify="right" if col.startswith("rows") else "left")
        for st in self.states.values():
            rows = max(st.rows_in, st.rows_out, st.rows_written)
            rate = rows / (st.duration_ms / 1000) if st.duration_ms else 0.0
            table.add_row(st.id, st.status, f"{rows:,}", f"{rate:,.0f}")
        return table

    def __call__(self, record: dict[str, Any]) -> None:
        if record["event"] == "run_complete" and self._live is not None:
            self._live.stop()
            self._live = None
        if self.fmt != "text" or (self._live is not None and record["event"] in ("step_start", "step_complete")):
            return
        line = _line(record)
        if line is not None:
            with self._lock:
                print(line, file=self.stream, flush=True)

    def final(self, status: Mapping[str, Any], out: IO[str] | None = None) -> None:
        if self.fmt == "json":
            print(json.dumps(status, sort_keys=True, indent=2, ensure_ascii=False), file=out or sys.stdout)

    def stop(self) -> None:
        """End the live display (a run that ended without run_complete reaching this listener)."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False
