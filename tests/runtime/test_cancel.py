"""Cancellation inside the runtime (in process, test drivers): what a signal handler's ``request`` leads to."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rt_helpers import plan, step

from osiris.runtime import scheduler
from osiris.runtime.cancel import CancelToken
from osiris.runtime.driver import StepContext
from osiris.runtime.engine import RunOptions, RunResult, run_plan

NUMBERS, SINK = "rt_drivers:Numbers", "rt_drivers:Sink"
RELEASE = threading.Event()  # lets a Stubborn driver end once its test is over


class Blocker:
    """A writer stuck in one long call (like a COPY the server is slow to answer) that its cancel hook ends."""

    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        woken = threading.Event()
        with self.ctx.cancel.hook(woken.set):
            self.ctx.cancel.request("received SIGINT", signal.SIGINT)  # arrives while the call blocks
            if not woken.wait(120):
                raise AssertionError("the cancel hook was never called")
        raise RuntimeError("statement interrupted")


class Stubborn:
    """A writer that ignores cancellation (a call no hook can interrupt)."""

    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.ctx = ctx

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        self.ctx.cancel.request("received SIGTERM", signal.SIGTERM)
        RELEASE.wait(120)


def _events(result: RunResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def _run(tmp_path: Path, p: dict[str, Any], on_event: Any, **kw: Any) -> tuple[RunResult, CancelToken]:
    token = CancelToken()

    def listener(record: dict[str, Any]) -> None:
        on_event(record, token)

    options = RunOptions(
        base_dir=tmp_path, runs_dir=tmp_path / "runs", env={}, listeners=[listener], cancel=token, **kw
    )
    return run_plan(p, options), token


def test_request_stops_running_steps_skips_the_rest_and_is_recorded(tmp_path: Path) -> None:
    p = plan(
        step("src", "test.extractor", {"batches": 100_000, "rows": 1000}, driver=NUMBERS),
        step("sink", "test.writer", {"delay": 0.2}, ["src"], driver=SINK),
        step("after", "test.writer", {}, ["sink"], driver=SINK),
    )

    def on_event(record: dict[str, Any], token: CancelToken) -> None:
        if record["event"] == "progress" and record["step"] == "sink":
            token.request("received SIGTERM", signal.SIGTERM)  # what the handler does

    started = time.monotonic()
    result, token = _run(tmp_path, p, on_event, memory_budget=64_000, jobs=2)  # src spills; "after" waits
    assert time.monotonic() - started < 60
    assert result.cancel is token and token.exit_code == 143
    status = result.status
    assert status["ok"] is False and status["state"] == "cancelled"
    assert status["cancelled"] == {
        "reason": "received SIGTERM",
        "signal": "SIGTERM",
        "steps": ["src", "sink"],
        "not_stopped": [],
    }
    assert status["steps"]["after"]["status"] == "skipped"
    assert status["steps"]["after"]["error"] == "not started: run cancelled (received SIGTERM)"
    assert 0 < status["steps"]["sink"]["rows_written"] < 100_000 * 1000
    kinds = [e["event"] for e in _events(result)]
    assert kinds[-2:] == ["run_cancelled", "run_complete"] and "sink" not in kinds  # the sink never finished
    assert not (result.run_dir / "tmp").exists()
    on_disk = json.loads((result.run_dir / "status.json").read_text(encoding="utf-8"))
    assert on_disk["state"] == "cancelled" and not (result.run_dir / ".status.reserve").exists()


def test_a_cancel_hook_interrupts_a_blocking_call(tmp_path: Path) -> None:
    p = plan(
        step("src", "test.extractor", {"batches": 1}, driver=NUMBERS),
        step("w", "test.writer", {}, ["src"], driver="test_cancel:Blocker"),
    )

    def on_event(record: dict[str, Any], token: CancelToken) -> None:
        pass

    started = time.monotonic()
    result, _ = _run(tmp_path, p, on_event)
    assert time.monotonic() - started < 60
    assert result.status["steps"]["w"]["status"] == "cancelled"
    assert result.status["cancelled"]["signal"] == "SIGINT"


def test_a_closed_output_stream_is_sigpipe(tmp_path: Path) -> None:
    p = plan(
        step("src", "test.extractor", {"batches": 100_000, "rows": 100}, driver=NUMBERS),
        step("sink", "test.writer", {}, ["src"], driver=SINK),
    )
    seen: list[str] = []

    def on_event(record: dict[str, Any], token: CancelToken) -> None:
        seen.append(record["event"])
        if record["event"] == "progress":
            raise BrokenPipeError(32, "Broken pipe")  # `| head -1` went away

    result, token = _run(tmp_path, p, on_event)
    assert token.signum == signal.SIGPIPE and token.exit_code == 141
    assert result.status["cancelled"]["reason"] == "output closed (BrokenPipeError)"
    assert seen.count("progress") == 1  # the broken listener was dropped, not called again
    assert [e["event"] for e in _events(result)][-1] == "run_complete"


def test_a_failing_listener_is_dropped_with_a_warning(tmp_path: Path) -> None:
    p = plan(
        step("src", "test.extractor", {"batches": 3}, driver=NUMBERS),
        step("sink", "test.writer", {}, ["src"], driver=SINK),
    )

    def on_event(record: dict[str, Any], token: CancelToken) -> None:
        raise RuntimeError("listener bug")

    result, token = _run(tmp_path, p, on_event)
    assert result.ok and not token.cancelled
    warnings = [e for e in _events(result) if e["event"] == "warning"]
    assert len(warnings) == 1 and "listener bug" in warnings[0]["message"]


def test_a_step_that_does_not_stop_is_given_up_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "STOP_GRACE_S", 0.5)
    p = plan(
        step("src", "test.extractor", {"batches": 1}, driver=NUMBERS),
        step("w", "test.writer", {}, ["src"], driver="test_cancel:Stubborn"),
    )

    def on_event(record: dict[str, Any], token: CancelToken) -> None:
        pass

    try:
        result, _ = _run(tmp_path, p, on_event)
    finally:
        RELEASE.set()
    assert result.stuck == ["w"]
    assert result.status["cancelled"]["not_stopped"] == ["w"]
    assert result.status["steps"]["w"]["error"] == "step 'w' did not stop within 0.5 s of the cancellation"
