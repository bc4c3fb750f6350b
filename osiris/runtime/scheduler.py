"""The scheduler: runs a validated plan's steps as threads, streaming batches between them.

A step starts when a slot is free (at most ``jobs`` steps run at once), every step it reads from has started,
and every other step it ``needs`` has finished. Producers never block (channels spill), so a consumer waiting
for batches always waits on a running step: no deadlock at any ``jobs``. A failed step stops its dependents:
those not started are skipped, those already reading get ``UpstreamFailed`` and are reported as skipped too;
independent branches carry on. The run fails (exit 1) when any step failed.

Cancellation (``CancelToken``): the main loop, which never runs driver code, notices a request within
``cancel.POLL_S``, starts no more steps (they are ``skipped``), cancels every channel (readers and writers raise
``Cancelled`` at their next batch, so writers roll back), runs the drivers' cancel hooks and terminates child
processes started during the run. Running steps end as ``cancelled`` (or ``ok`` when they had already committed);
a step still running ``STOP_GRACE_S`` later is reported as not stopped and left behind (``Scheduler.stuck``).
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa

from osiris.runtime import drift
from osiris.runtime.cancel import POLL_S, CancelToken, child_pids, reap_children, terminate_children
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.errors import RunError
from osiris.runtime.streams import Channel, MemoryBudget, SpillError, UpstreamFailed, pump

STOP_GRACE_S = 60.0  # how long cancelled steps get to roll back before the run is recorded without them

Listener = Callable[[dict[str, Any]], None]


@attrs.define
class StepState:
    id: str
    component: str
    status: str = "pending"  # pending | running | ok | failed | skipped | cancelled
    rows_in: int = 0
    rows_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rows_written: int = 0
    started: float = 0.0
    ended: float = 0.0
    error: str | None = None
    lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    @property
    def duration_ms(self) -> int:
        if not self.started:
            return 0
        return int(((self.ended or time.monotonic()) - self.started) * 1000)

    def counters(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "rows_written": self.rows_written,
            "duration_ms": self.duration_ms,
        }


BUILTIN_DRIVERS = "osiris.components"
DRIVER_MODULES_ENV = "OSIRIS_DRIVER_MODULES"  # comma-separated packages trusted for drivers (components in development)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def driver_packages() -> list[str]:
    """The packages a plan's driver may come from: the built-in components, the top-level package of every
    installed ``osiris.components`` entry point, and those listed in ``OSIRIS_DRIVER_MODULES``."""
    from importlib import metadata  # ~15 ms: only when a driver is not a built-in one

    packages = [BUILTIN_DRIVERS]
    packages += sorted(
        {ep.value.partition(":")[0].strip().split(".")[0] for ep in metadata.entry_points(group=BUILTIN_DRIVERS)}
    )
    packages += [p.strip() for p in os.environ.get(DRIVER_MODULES_ENV, "").split(",") if p.strip()]
    return packages


def load_driver(path: str) -> Any:
    """Import a step's driver class. A plan is data: its driver must come from a component package (see
    ``driver_packages``), so a hand-edited ``"driver": "os:system"`` imports nothing and runs nothing."""
    module, _, attr = path.partition(":")
    if not _within(module, BUILTIN_DRIVERS):
        packages = driver_packages()
        if not any(_within(module, p) for p in packages):
            raise RunError(
                "OSR-E320",
                f"cannot load driver '{path}': module '{module}' is in no component package ({', '.join(packages)}:"
                f" the built-in components, installed osiris.components entry points, {DRIVER_MODULES_ENV})",
            )
    try:
        driver = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise RunError("OSR-E320", f"cannot load driver '{path}': {type(exc).__name__}: {exc}") from None
    if not isinstance(driver, type):
        raise RunError("OSR-E320", f"cannot load driver '{path}': not a class ({type(driver).__name__})")
    return driver


def target_of(step: Mapping[str, Any]) -> str | None:
    """A short human name for what a step reads or writes (for error messages)."""
    write = step.get("write") or {}
    target = write.get("target")
    if isinstance(target, dict):
        return ".".join(str(target[k]) for k in ("schema", "table") if target.get(k))
    if isinstance(target, str):
        return target
    config = step.get("config") or {}
    for key in ("path", "table", "query"):
        value = config.get(key)
        if isinstance(value, str):
            return value if len(value) <= 60 else value[:57] + "..."
    return None


class StepBook:
    """What every scheduler keeps about a plan's steps and how it reports them (local threads, Ray actors).

    A subclass places the steps; this class holds their states, decides readiness from ``needs`` and
    ``inputs``, and words the skipped, given-up and failed outcomes the same way on every backend.
    """

    BLOCKING: tuple[str, ...] = ("failed", "skipped")  # a need in one of these states skips the step

    def __init__(
        self,
        plan: Mapping[str, Any],
        contexts: Mapping[str, StepContext],
        *,
        jobs: int,
        budget: MemoryBudget,
        emit: Callable[..., dict[str, Any]],
        redact: Callable[[str], str],
        cancel: CancelToken | None,
    ):
        self.steps = {s["id"]: s for s in plan["steps"]}
        self.order = [s["id"] for s in plan["steps"]]
        self.contexts = contexts
        self.jobs = max(1, jobs)
        self.budget = budget
        self.emit = emit
        self.redact = redact
        self.cancel = cancel or CancelToken()
        self.stuck: list[str] = []  # steps that did not stop within STOP_GRACE_S of a cancellation
        self.state = {sid: StepState(sid, self.steps[sid]["component"]) for sid in self.order}

    def _blocked_by(self, sid: str) -> str | None:
        for need in self.steps[sid].get("needs", []):
            if self.state[need].status in self.BLOCKING:
                return need
        return None

    def _ready(self, sid: str) -> bool:
        """Every step it reads from has started and every other step it needs has finished."""
        readers = {inp["step"] for inp in self.steps[sid].get("inputs", [])}
        for need in self.steps[sid].get("needs", []):
            status = self.state[need].status
            if need in readers and status == "pending":
                return False
            if need not in readers and status != "ok":
                return False
        return True

    def _skip(self, sid: str, blocker: str | None) -> None:
        st = self.state[sid]
        st.status = "skipped"
        if blocker is None:
            st.error = f"not started: run cancelled ({self.cancel.reason})"
        else:
            st.error = f"skipped because step '{blocker}' did not complete"
        self._skipped(sid)
        self.emit("step_skipped", step=sid, reason=st.error, **st.counters())

    def _skipped(self, sid: str) -> None:
        """Hook: release what a skipped step's readers wait on."""

    def _give_up(self, running: list[str]) -> None:
        for sid in running:
            st = self.state[sid]
            st.status, st.ended = "cancelled", time.monotonic()
            st.error = f"step '{sid}' did not stop within {STOP_GRACE_S:g} s of the cancellation"
            self.stuck.append(sid)
            self.emit("step_cancelled", step=sid, reason=st.error, **st.counters())

    def _failed_upstream(self, sid: str) -> str | None:
        """A transitive upstream that failed or was skipped."""
        seen: set[str] = set()
        todo = list(self.steps[sid].get("needs", []))
        while todo:
            need = todo.pop()
            if need in seen:
                continue
            seen.add(need)
            if self.state[need].status in ("failed", "skipped"):
                return need
            todo += self.steps[need].get("needs", [])
        return None

    def where(self, sid: str) -> str:
        """``step 'id' (component, target T)``: how every failure message names its step."""
        step = self.steps[sid]
        target = target_of(step)
        return f"step '{sid}' ({step['component']}" + (f", target {target})" if target else ")")


class Scheduler(StepBook):
    def __init__(
        self,
        plan: Mapping[str, Any],
        contexts: Mapping[str, StepContext],
        drivers: Mapping[str, Any],
        *,
        jobs: int,
        budget: MemoryBudget,
        spill_dir: Path,
        emit: Callable[..., dict[str, Any]],
        redact: Callable[[str], str],
        cancel: CancelToken | None = None,
    ):
        super().__init__(plan, contexts, jobs=jobs, budget=budget, emit=emit, redact=redact, cancel=cancel)
        self.drivers = drivers
        self.cond = threading.Condition()
        self.channels: dict[str, list[Channel]] = {sid: [] for sid in self.order}  # producer -> its channels
        self.inputs: dict[str, dict[str, Channel]] = {sid: {} for sid in self.order}  # consumer -> producer -> ch
        for sid in self.order:
            for inp in self.steps[sid].get("inputs", []):
                producer = inp["step"]
                if producer not in self.inputs[sid]:
                    ch = Channel(producer, budget, spill_dir, self._reader_counter(sid))
                    self.inputs[sid][producer] = ch
                    self.channels[producer].append(ch)

    def _reader_counter(self, sid: str) -> Callable[[int, int], None]:
        def count(rows: int, nbytes: int) -> None:
            st = self.state[sid]
            with st.lock:
                st.rows_in += rows
                st.bytes_in += nbytes

        return count

    # ------------------------------------------------------------------------------------------------ planning
    def run(self) -> dict[str, StepState]:
        keep = frozenset(child_pids())  # processes that are not this run's
        try:
            return self._run(keep)
        finally:
            reap_children(keep)  # no client a driver started outlives the run, whatever ended it

    def _run(self, keep: frozenset[int]) -> dict[str, StepState]:
        threads: list[threading.Thread] = []
        deadline: float | None = None
        while True:
            if self.cancel.cancelled and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_S
                self._stop_everything(keep)
            with self.cond:
                pending = [s for s in self.order if self.state[s].status == "pending"]
                running = [s for s in self.order if self.state[s].status == "running"]
                if not pending and not running:
                    break
                if deadline is not None and not pending and time.monotonic() > deadline:
                    self._give_up(running)
                    break
                progressed = False
                for sid in pending:
                    blocker = self._blocked_by(sid)
                    if blocker is not None or self.cancel.cancelled:
                        self._skip(sid, blocker)
                        progressed = True
                    elif len(running) < self.jobs and self._ready(sid):
                        self.state[sid].status = "running"
                        self.state[sid].started = time.monotonic()
                        running.append(sid)
                        t = threading.Thread(target=self._run_step, args=(sid,), name=f"step-{sid}", daemon=True)
                        threads.append(t)
                        t.start()
                        progressed = True
                if not progressed:
                    self.cond.wait(POLL_S)
        for t in threads:
            if t.name.removeprefix("step-") not in self.stuck:
                t.join()
        return self.state

    def _stop_everything(self, keep: frozenset[int]) -> None:
        """Act on a cancellation request: wake every stream, interrupt blocking calls, end child processes."""
        reason = f"run cancelled ({self.cancel.reason})"
        for channels in self.channels.values():
            for ch in channels:
                ch.cancel(reason)
        self.cancel.fire()
        terminate_children(keep)

    def _skipped(self, sid: str) -> None:
        for ch in self.channels[sid]:
            ch.close(failed=True)

    # ------------------------------------------------------------------------------------------------ one step
    def _run_step(self, sid: str) -> None:
        step, st, ctx = self.steps[sid], self.state[sid], self.contexts[sid]
        error: BaseException | None = None
        readers: dict[str, pa.RecordBatchReader] = {}
        try:
            self.emit("step_start", step=sid, component=step["component"], mode=step["mode"], **st.counters())
            self.cancel.check()
            for producer, ch in self.inputs[sid].items():
                reader = ch.reader()
                for inp in step.get("inputs", []):
                    if inp["step"] == producer:
                        readers[inp["name"]] = reader  # aliases of one upstream share one reader
            driver = self.drivers[sid](step, ctx)
            out = driver.run(readers)
            if out is not None:
                drift.check_stream(step, out)  # before any batch reaches a consumer
                pump(out, self.channels[sid], self._writer_counter(st), self.cancel)
            elif self.channels[sid]:
                raise StepError(f"step '{sid}' produced no output but {len(self.channels[sid])} step(s) read it")
        except BaseException as exc:
            error = exc
        finally:
            for ch in self.inputs[sid].values():
                ch.abandon()
            # the error's traceback keeps this frame alive: drop the step's reader and driver now, so a source
            # connection left unread (a drifted schema, a failed start) is released at once, not at run end
            out = driver = None
            readers.clear()
            self._finish(sid, error)

    def _finish(self, sid: str, error: BaseException | None) -> None:
        """Record a step's outcome, then close its channels (a reader woken by the close sees why)."""
        st = self.state[sid]
        with self.cond:
            try:
                if st.status != "running":  # given up on after a cancellation: already recorded
                    return
                st.ended = time.monotonic()
                if error is None:
                    st.status = "ok"
                    self.emit("step_complete", step=sid, **st.counters())
                elif self.cancel.cancelled:
                    st.status = "cancelled"
                    st.error = f"step '{sid}' stopped: run cancelled ({self.cancel.reason})"
                    self.emit("step_cancelled", step=sid, reason=st.error, **st.counters())
                elif (upstream := self._failed_upstream(sid)) is not None or isinstance(error, UpstreamFailed):
                    st.status = "skipped"
                    st.error = f"stopped because upstream step '{upstream or getattr(error, 'step_id', '?')}' failed"
                    self.emit("step_skipped", step=sid, reason=st.error, **st.counters())
                else:
                    st.status = "failed"
                    st.error = self.describe(sid, error)
                    code = error.code if isinstance(error, drift.SchemaDrift) else "OSR-E330"
                    self.emit("step_error", step=sid, code=code, error=st.error, **st.counters())
            finally:
                for ch in self.channels[sid]:
                    ch.close(failed=st.status != "ok")
                self.cond.notify_all()

    def _writer_counter(self, st: StepState) -> Callable[[int, int], None]:
        def count(rows: int, nbytes: int) -> None:
            with st.lock:
                st.rows_out += rows
                st.bytes_out += nbytes

        return count

    def describe(self, sid: str, exc: BaseException) -> str:
        cause = str(exc) if isinstance(exc, (StepError, SpillError)) else f"{type(exc).__name__}: {exc}"
        return self.redact(f"{self.where(sid)} failed: {cause}")
