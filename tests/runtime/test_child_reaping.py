"""No child process a driver started outlives the run (in process, test drivers, real child processes): at the
normal end, after a failed step and after a cancellation, ``run_plan`` returns only once each one is gone. The
child ignores SIGTERM, as a client does that is between its start and its first signal handling, or one started
after the cancellation's SIGTERM went out; so the run must SIGKILL it after the grace and reap it."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rt_helpers import plan, step

from osiris.runtime.cancel import REAP_GRACE_S, CancelToken
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.engine import RunOptions, run_plan

STARTED: list[subprocess.Popen[bytes]] = []  # the children the drivers started, for the test to look at


def _start_child() -> None:
    STARTED.append(subprocess.Popen(["sh", "-c", "trap '' TERM; exec sleep 60"]))


class Leaves:
    """A writer that starts a client and leaves it running: ends normally, fails, or is cancelled meanwhile."""

    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.ctx, self.how = ctx, step["config"]["how"]

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        if self.how == "cancelled":
            self.ctx.cancel.request("received SIGTERM", signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not self.ctx.cancel._fired.is_set() and time.monotonic() < deadline:  # the SIGTERMs went out
                time.sleep(0.01)
        _start_child()
        self.ctx.cancel.check()
        if self.how == "failed":
            raise StepError("the load failed")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(("how", "status"), [("ok", "ok"), ("failed", "failed"), ("cancelled", "cancelled")])
def test_no_child_process_outlives_the_run(tmp_path: Path, how: str, status: str) -> None:
    STARTED.clear()
    p = plan(step("w", "test.writer", {"how": how}, driver="test_child_reaping:Leaves"))
    options = RunOptions(base_dir=tmp_path, runs_dir=tmp_path / "runs", env={}, cancel=CancelToken())
    started = time.monotonic()
    result = run_plan(p, options)
    took = time.monotonic() - started
    try:
        assert result.status["steps"]["w"]["status"] == status
        (child,) = STARTED
        assert not _alive(child.pid), "the child is still running after the run returned"
        assert not Path(f"/proc/{child.pid}").exists(), "the child was not reaped (a zombie)"
        assert took < REAP_GRACE_S + 5
    finally:
        for child in STARTED:
            child.kill()
            child.wait()
