"""Progress that means what it says: rows in and out apart, rates from the step's own start, periodic plain lines
for long steps, thousands separators."""

from __future__ import annotations

import io
import time

import pytest

from osiris.runtime import console
from osiris.runtime.scheduler import StepState


def _running(seconds: float, rows_in: int, rows_out: int) -> StepState:
    st = StepState(id="load", component="postgres.writer", status="running", rows_in=rows_in, rows_out=rows_out)
    st.started = time.monotonic() - seconds
    return st


def test_progress_line_rates_from_the_steps_own_start() -> None:
    line = console.progress_line(_running(10.0, 1_234_567, 0))
    assert line.startswith("[load] 10.")
    assert "1,234,567 rows in" in line and "rows out" not in line
    rate = int(line.rsplit("(", 1)[1].split()[0].replace(",", ""))
    assert 118_000 < rate < 124_000  # 1,234,567 rows over ~10 s of this step, not of the run


def test_plain_mode_prints_periodic_lines_only_for_long_running_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "PLAIN_EVERY_S", 0.05)
    out = io.StringIO()
    reporter = console.Reporter("text", stream=out, live=False)
    short = StepState(id="quick", component="duckdb.processor", status="running")
    short.started = time.monotonic()
    reporter.watch({"load": _running(30.0, 2_000_000, 1_500_000), "quick": short})
    deadline = time.monotonic() + 10
    while out.getvalue().count("[load]") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    reporter.stop()
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("[load] ") for line in lines) >= 2
    assert any("2,000,000 rows in, 1,500,000 rows out" in line for line in lines)
    assert not any(line.startswith("[quick]") for line in lines)  # shorter than the period: no line


def test_live_table_shows_rows_in_and_out_and_time() -> None:
    reporter = console.Reporter("text", stream=io.StringIO(), live=False)
    reporter.states = {"load": _running(2.0, 5_000, 4_000)}
    table = reporter._table()
    assert [c.header for c in table.columns] == ["step", "status", "rows in", "rows out", "rows/s", "time"]
    cells = [next(iter(c.cells)) for c in table.columns]
    assert cells[2:4] == ["5,000", "4,000"] and cells[5].endswith(" s")
