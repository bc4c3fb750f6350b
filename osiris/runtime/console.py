"""What a run prints: a live rich table on a TTY (rows in and out, rows/s from each step's own start, duration per
step, kept as the final table), plain log lines otherwise (with a progress line every ``PLAIN_EVERY_S`` for steps
running longer than ``LONG_STEP_S``), and with ``--format json`` only the final status on stdout. Everything printed has
passed the redactor."""

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

PLAIN_EVERY_S = 5.0  # plain mode: how often a long-running step reports its counts
LONG_STEP_S = 3.0  # plain mode: a step reports progress once it has run this long


def _rate(st: StepState) -> float:
    """Rows per second since this step started (the larger of rows in and rows out)."""
    seconds = st.duration_ms / 1000
    return max(st.rows_in, st.rows_out, st.rows_written) / seconds if seconds > 0 else 0.0


def _took(ms: int) -> str:
    return f"{ms / 1000:,.1f} s" if ms >= 1000 else f"{ms} ms"


def progress_line(st: StepState) -> str:
    """A plain progress line for a running step: ``[load] 12.0 s: 1,200,000 rows in (100,000 rows/s)``."""
    moved = [f"{n:,} rows {what}" for what, n in (("in", st.rows_in), ("out", st.rows_out)) if n]
    if st.rows_written and st.rows_written != st.rows_in:
        moved.append(f"{st.rows_written:,} rows written")
    return f"[{st.id}] {_took(st.duration_ms)}: {', '.join(moved) or '0 rows'} ({_rate(st):,.0f} rows/s)"


def _line(record: Mapping[str, Any]) -> str | None:
    kind, step = record["event"], record.get("step")
    if kind == "run_start":
        return f"run {record['run_id']}: {record['pipeline']} ({record['steps']} steps)"
    if kind == "step_start":
        return f"[{step}] start ({record['component']})"
    if kind == "step_complete":
        moved = [f"{record[k]:,} rows {k[5:]}" for k in ("rows_in", "rows_out") if record[k]]
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
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None

    def watch(self, states: Mapping[str, StepState]) -> None:
        self.states = states
        if self.live_enabled:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False)
            self._live = Live(get_renderable=self._table, console=console, refresh_per_second=4, transient=False)
            self._live.start()
        elif self.fmt == "text":
            self._ticker = threading.Thread(target=self._tick, name="osiris-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        """Plain mode: every PLAIN_EVERY_S, a line for each step that has been running at least that long."""
        while not self._done.wait(PLAIN_EVERY_S):
            for st in list(self.states.values()):
                if st.status == "running" and st.duration_ms >= LONG_STEP_S * 1000:
                    try:
                        with self._lock:
                            print(progress_line(st), file=self.stream, flush=True)
                    except (OSError, ValueError):  # the output went away: the run notices it through its events
                        return

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for col in ("step", "status", "rows in", "rows out", "rows/s", "time"):
            table.add_column(col, justify="left" if col in ("step", "status") else "right")
        for st in self.states.values():
            out = st.rows_written if st.rows_written and not st.rows_out else st.rows_out
            started = st.status != "pending"
            table.add_row(
                st.id,
                st.status,
                f"{st.rows_in:,}",
                f"{out:,}",
                f"{_rate(st):,.0f}" if started else "",
                _took(st.duration_ms) if started else "",
            )
        return table

    def __call__(self, record: dict[str, Any]) -> None:
        if record["event"] == "run_complete":
            self._done.set()
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
        self._done.set()
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False
