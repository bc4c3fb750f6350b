"""``RayScheduler``: the local scheduler's contract (``RunOptions.scheduler``) with every step in Ray actors.

The engine does what it does for a local run (preflight, run directory, events, metrics, status.json); this class
replaces only the placing of steps. Same rules as ``osiris.runtime.scheduler``: a step starts when a slot is free
(``jobs``), the steps it reads from have started and its other needs have finished; a failed step skips its
dependents, independent branches carry on; a cancellation cancels every worker and waits ``STOP_GRACE_S``.

Each step is one ``StepWorker`` actor, or N for a step with ``partition: {column, count}`` (partition.py): the
bounds are read first through the step's own driver (a probe actor), then N actors read one range each, spread over
the cluster's nodes. Whatever reads a partitioned step pulls from all N at once and sees one stream: a writer is
ONE actor owning ONE transaction (its staging load and its finalize are the local writer's, unchanged), so a failed
or killed partition rolls the whole load back. A transform (duckdb.processor) always runs in one actor over the
merged stream: the compiler does not try to prove SQL partition-local (aggregates, joins, windows, ORDER BY and
LIMIT are not), so it never splits one.

Actors reserve no CPU (``num_cpus=0``): a streaming plan keeps all its steps alive at once, and reserving a CPU
each could leave a consumer unscheduled behind its own producers on a small cluster.

A worker that dies (killed, node lost) fails its step with a message naming the step and the worker; readers of its
output stop (their batches are owned by the dead worker) and roll back; the run fails (exit 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from osiris.backends.ray import partition
from osiris.backends.ray.worker import StepWorker, first_line
from osiris.runtime.cancel import POLL_S, CancelToken
from osiris.runtime.connections import with_connection_schema
from osiris.runtime.driver import StepContext
from osiris.runtime.scheduler import STOP_GRACE_S, StepBook, StepState
from osiris.runtime.streams import MemoryBudget

TERMINAL = ("ok", "failed", "cancelled", "died")
PROBE_TIMEOUT_S = 300.0


def call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Every remote call of the backend goes through here (its arguments carry no secret: tests check them)."""
    return method.remote(*args, **kwargs)


class RayScheduler(StepBook):
    BLOCKING = ("failed", "skipped", "cancelled")  # a killed worker ends its step as cancelled: skip dependents

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
        connections: Path | None = None,
    ):
        super().__init__(plan, contexts, jobs=jobs, budget=budget, emit=emit, redact=redact, cancel=cancel)
        self.connections = str(connections.resolve()) if connections else None
        self.units: dict[str, list[Any]] = {}  # step -> its actors
        self.last: dict[str, list[dict[str, Any]]] = {}  # step -> its actors' last poll answers
        self.pids: dict[str, list[int]] = {}
        self.consumers: dict[str, list[str]] = {sid: [] for sid in self.order}
        for sid in self.order:
            for inp in self.steps[sid].get("inputs", []):
                if sid not in self.consumers[inp["step"]]:
                    self.consumers[inp["step"]].append(sid)
        self._worker: Any = None

    # ------------------------------------------------------------------------------------------------ planning
    def run(self) -> dict[str, StepState]:
        import ray

        self._worker = ray.remote(StepWorker)
        deadline: float | None = None
        try:
            while True:
                if self.cancel.cancelled and deadline is None:
                    deadline = time.monotonic() + STOP_GRACE_S
                    for sid in self.units:
                        self._cancel_units(sid, f"run cancelled ({self.cancel.reason})")
                pending = [s for s in self.order if self.state[s].status == "pending"]
                running = [s for s in self.order if self.state[s].status == "running"]
                if not pending and not running:
                    break
                if deadline is not None and not pending and time.monotonic() > deadline:
                    self._give_up(running)
                    break
                for sid in pending:
                    blocker = self._blocked_by(sid)
                    if blocker is not None or self.cancel.cancelled:
                        self._skip(sid, blocker)
                    elif len(running) < self.jobs and self._ready(sid):
                        running.append(sid)
                        self._start(sid)
                for sid in running:
                    if self.state[sid].status == "running":
                        self._poll(sid)
                time.sleep(POLL_S)
        finally:
            for units in self.units.values():
                for handle in units:
                    try:
                        ray.kill(handle)
                    except Exception:  # already dead
                        continue
        return self.state

    # ------------------------------------------------------------------------------------------------ one step
    def _new_worker(self, step: Mapping[str, Any], *, spread: bool) -> Any:
        ctx = self.contexts[step["id"]]
        options: dict[str, Any] = {"num_cpus": 0, "max_concurrency": 32, "max_restarts": 0}
        if spread:
            options["scheduling_strategy"] = "SPREAD"
        return call(
            self._worker.options(**options),
            step,
            str(ctx.base_dir),
            self.connections,
            batch_size=ctx.batch_size,
            memory_budget=ctx.memory_budget,
            consumers=self.consumers[step["id"]],
        )

    def _plan_units(self, sid: str) -> list[str | None]:
        """The query of each actor of a step: [None] (the step as planned), or one range query per partition (the
        bounds read first by the first partition's worker, which then reads its own range)."""

        step = self.steps[sid]
        spec = partition.spec_of(step)
        if spec is None:
            self.units[sid] = [self._new_worker(step, spread=False)]
            return [None]
        column, count = spec
        # the source as the driver reads it: in the connection's schema when the step sets none
        config = with_connection_schema(step.get("config") or {}, self.contexts[sid].connection)
        dialect_name, sql = partition.source_sql({**step, "config": config})
        first = self._new_worker(step, spread=True)
        self.units[sid] = [first]
        picked = ""
        if column is None:  # the table's primary key, when it is one integer column
            keys = self._probe(first, partition.primary_key_query(dialect_name, config), "the primary key")
            column = partition.pick_primary_key(keys, str(config.get("table")))
            picked = " (the table's primary key)"
        rows = self._probe(first, partition.bounds_query(dialect_name, sql, column), f"partition column '{column}'")
        row = rows[0] if rows else {"lo": None, "hi": None, "nulls": 0}
        lo, hi, nulls = row.get("lo"), row.get("hi"), int(row.get("nulls") or 0)
        partition.check_bounds(column, lo, hi)
        if lo is None or hi is None:  # nothing but NULLs (or no row): one read, as planned
            return [None]
        parts = partition.ranges(int(lo), int(hi), count)
        self.units[sid] += [self._new_worker(step, spread=True) for _ in parts[1:]]
        self.contexts[sid].event(
            "info",
            {
                "message": f"read in {len(parts)} partitions of '{column}'{picked} over {lo}..{hi}"
                + (f" ({nulls} NULL row(s) in partition 1)" if nulls else "")
            },
        )
        return [
            partition.range_query(dialect_name, sql, column, part, nulls > 0 and i == 0) for i, part in enumerate(parts)
        ]

    def _probe(self, worker: Any, query: str, what: str) -> list[dict[str, Any]]:
        """The rows of a small query the worker runs through its driver; waits in POLL_S steps, so a cancellation
        (or PROBE_TIMEOUT_S) ends it instead of blocking the run (the other steps wait meanwhile)."""
        import ray

        ref = call(worker.collect, query)
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while not ray.wait([ref], timeout=POLL_S)[0]:
            if self.cancel.cancelled or time.monotonic() > deadline:
                ray.kill(worker)  # ends its query (the server sees the client go)
                why = f"run cancelled ({self.cancel.reason})" if self.cancel.cancelled else "timed out"
                raise partition.PartitionError(f"reading {what}: {why}")
        rows: list[dict[str, Any]] = ray.get(ref)
        return rows

    def _start(self, sid: str) -> None:
        step, st = self.steps[sid], self.state[sid]
        st.status, st.started = "running", time.monotonic()
        self.emit("step_start", step=sid, component=step["component"], mode=step["mode"], **st.counters())
        try:
            queries = self._plan_units(sid)
        except Exception as exc:
            self.last[sid] = [{"state": "failed", "counters": {}} for _ in self.units.get(sid, [])]
            if self.cancel.cancelled:
                self._finish(sid, [{"state": "cancelled", "kind": "cancelled", "counters": {}}])
            else:
                self._fail(sid, str(exc) if isinstance(exc, partition.PartitionError) else first_line(exc))
            return
        self.last[sid] = [{"state": "new", "counters": {}} for _ in queries]
        inputs: dict[str, list[Any]] = {}
        names: dict[str, str] = {}
        for inp in step.get("inputs", []):
            inputs[inp["step"]] = self.units[inp["step"]]
            names[inp["name"]] = inp["step"]
        for handle, query in zip(self.units[sid], queries, strict=True):
            call(handle.start, inputs, names, query)

    def _poll(self, sid: str) -> None:
        import ray

        units, st, ctx = self.units.get(sid, []), self.state[sid], self.contexts[sid]
        answers = self.last[sid]
        refs = [(i, call(h.poll)) for i, h in enumerate(units) if answers[i]["state"] not in TERMINAL]
        for i, ref in refs:
            try:
                answer = ray.get(ref, timeout=30)
            except ray.exceptions.GetTimeoutError:  # alive but busy: ask again next round
                continue
            except Exception as exc:  # RayActorError: the process is gone
                where = f"partition {i + 1} of " if len(units) > 1 else ""
                answer = {
                    **answers[i],
                    "events": [],
                    "state": "died",
                    "kind": "step",
                    "error": f"the Ray worker running {where}this step died ({first_line(exc)})",
                }
            written = sum(a["counters"].get("rows_written", 0) for a in answers)
            answers[i] = answer
            for kind, data in answer.get("events", ()):
                ctx.event(kind, data)
            delta = sum(a["counters"].get("rows_written", 0) for a in answers) - written
            if delta:
                ctx.progress(delta, 0)
        totals = {k: sum(a["counters"].get(k, 0) for a in answers) for k in ("rows_in", "bytes_in")}
        totals.update({k: sum(a["counters"].get(k, 0) for a in answers) for k in ("rows_out", "bytes_out")})
        with st.lock:
            st.rows_in, st.bytes_in = totals["rows_in"], totals["bytes_in"]
            st.rows_out, st.bytes_out = totals["rows_out"], totals["bytes_out"]
        failures = [a for a in answers if a["state"] in ("failed", "died") and a.get("kind") != "cancelled"]
        if failures and any(a["state"] not in TERMINAL for a in answers):
            self._cancel_units(sid, f"{failures[0].get('error')}")  # a sibling partition failed: stop the rest
        if all(a["state"] in TERMINAL for a in answers):
            self._finish(sid, answers)

    def _finish(self, sid: str, answers: list[dict[str, Any]]) -> None:
        st = self.state[sid]
        st.ended = time.monotonic()
        failures = [a for a in answers if a["state"] in ("failed", "died") and a.get("kind") != "cancelled"]
        if not failures and all(a["state"] == "ok" for a in answers):
            st.status = "ok"
            self.emit("step_complete", step=sid, **st.counters())
        elif self.cancel.cancelled:
            st.status = "cancelled"
            st.error = f"step '{sid}' stopped: run cancelled ({self.cancel.reason})"
            self.emit("step_cancelled", step=sid, reason=st.error, **st.counters())
        elif (upstream := self._failed_upstream(sid)) is not None or any(a.get("kind") == "upstream" for a in failures):
            culprit = upstream or next(a.get("upstream") for a in failures if a.get("kind") == "upstream")
            st.status = "skipped"
            st.error = f"stopped because upstream step '{culprit}' failed"
            self.emit("step_skipped", step=sid, reason=st.error, **st.counters())
        else:
            first = failures[0] if failures else answers[0]
            self._fail(sid, str(first.get("error")), first.get("code") or "OSR-E330")

    def _fail(self, sid: str, cause: str, code: str = "OSR-E330") -> None:
        st = self.state[sid]
        st.status, st.ended = "failed", st.ended or time.monotonic()
        st.error = self.describe(sid, cause)
        self._cancel_units(sid, st.error)
        self.emit("step_error", step=sid, code=code, error=st.error, **st.counters())

    def _cancel_units(self, sid: str, reason: str) -> None:
        for i, handle in enumerate(self.units.get(sid, [])):
            if self.last.get(sid, [{}] * (i + 1))[i].get("state") in TERMINAL:
                continue
            try:
                call(handle.cancel, reason)
            except Exception:  # the worker is gone: nothing to cancel
                continue

    def describe(self, sid: str, cause: str) -> str:
        return self.redact(f"{self.where(sid)} failed: {cause}")
