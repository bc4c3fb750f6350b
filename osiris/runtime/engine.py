"""``run_plan``: preflight (connections, secrets, drivers), then the run directory, the scheduler and the status.

Preflight problems (bad connections file, unknown alias, unset variable, missing driver, a run directory that
cannot be created) raise ``RunError`` before anything runs (exit 2). Step failures are recorded in the run directory
and returned (exit 1). A cancelled run (``RunOptions.cancel``: a signal, a closed output stream) is recorded with a
``run_cancelled`` event and ``status.cancelled``. A record write that failed after the start is listed in
``RunResult.record_errors`` (and in status.json when that could still be written); it never fails a step.
"""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from osiris.runtime import incremental
from osiris.runtime.cancel import CancelToken
from osiris.runtime.connections import (
    SERVER_DIALECTS,
    Connections,
    connection_schema,
    find_file,
    resolve_secrets,
    route_problems,
)
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.errors import RunError
from osiris.runtime.redact import Redactor
from osiris.runtime.rundir import RunDir, masked_status, safe_name
from osiris.runtime.scheduler import Scheduler, StepState, load_driver
from osiris.runtime.streams import DEFAULT_MEMORY_BUDGET, MemoryBudget
from osiris.secrets import markers

Listener = Callable[[dict[str, Any]], None]


@attrs.define
class RunOptions:
    base_dir: Path = attrs.field(factory=Path.cwd)
    runs_dir: Path = Path("runs")
    connections: str | None = None
    jobs: int = 4
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    batch_size: int = 100_000
    env: dict[str, str] | None = None  # default: a copy of os.environ (.env files are loaded into the copy)
    listeners: list[Listener] = attrs.field(factory=list)  # get every event (already redacted)
    watch: Callable[[Mapping[str, StepState]], None] | None = None  # gets the live step states (for displays)
    cancel: CancelToken = attrs.field(factory=CancelToken)  # request() it to stop the run (signal handlers do)
    # what places the steps: the local Scheduler (threads) unless a backend gives its own with the same
    # constructor and ``run``/``order``/``state``/``stuck`` (osiris/backends/ray: one Ray actor per step)
    scheduler: Callable[..., Any] | None = None


PROGRESS_EVERY_S = 1.0  # a step's ``progress`` event: at its first loaded rows, then at most this often


@attrs.define
class RunResult:
    ok: bool
    run_id: str
    run_dir: Path
    status: dict[str, Any]
    redactor: Redactor
    cancel: CancelToken | None = None  # when the run was cancelled: why (``reason``, ``signum``, ``exit_code``)
    record_errors: list[str] = attrs.field(factory=list)  # parts of the run record that could not be written
    stuck: list[str] = attrs.field(factory=list)  # steps still running (did not stop after a cancellation)


def _split_ref(ref: str) -> tuple[str, str | None]:
    family, _, alias = ref.removeprefix("@").partition(".")
    return family, alias or None


def _preflight(
    steps: list[dict[str, Any]], conns: Connections, env: Mapping[str, str], redactor: Redactor
) -> tuple[dict[str, tuple[dict[str, Any], dict[str, Any] | None]], dict[str, Any]]:
    """Each step's resolved config and connection (secrets registered with the redactor) and driver; a
    connection that cannot name its server, database and user explicitly is refused here, before anything runs."""
    resolved: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    drivers: dict[str, Any] = {}
    for s in steps:
        secret_fields = s.get("secret_fields", ())

        def resolve_ref(ref: str, secret_fields: Any = secret_fields) -> dict[str, Any]:
            return conns.resolve(*_split_ref(ref), secret_fields)

        conn_ref = s.get("connection")
        connection = conns.resolve(conn_ref["family"], conn_ref.get("alias"), secret_fields) if conn_ref else None
        config = resolve_secrets(copy.deepcopy(s.get("config", {})), connection, env, redactor, resolve_ref)
        dialect = s.get("dialect")  # the plan's, from the spec's x-compiler.dialect
        if conn_ref and dialect in SERVER_DIALECTS:
            merged = {**connection, **{k: v for k, v in config.items() if v is not None}} if connection else config
            problems = route_problems(dialect, merged)
            if problems:
                field, problem, fix = problems[0]
                name = conns.choose(conn_ref["family"], conn_ref.get("alias"))
                raise RunError(
                    "OSR-E316",
                    f"{conns.origin}: connection '@{conn_ref['family']}.{name}' (step '{s['id']}'): "
                    f"field '{field}' {problem}; {fix}",
                )
        schema = connection_schema(config, connection)
        if conn_ref and schema is not None and s.get("write"):  # planned at build time for the spec's default
            from osiris.dialects import PlanError, retarget

            try:
                s["write"] = retarget(s["write"], schema)
            except PlanError as exc:
                name = conns.choose(conn_ref["family"], conn_ref.get("alias"))
                raise RunError(
                    "OSR-E316", f"{conns.origin}: connection '@{conn_ref['family']}.{name}' (step '{s['id']}'): {exc}"
                ) from None
        resolved[s["id"]] = (config, connection)
        drivers[s["id"]] = load_driver(s["driver"])
    return resolved, drivers


def resolve_steps(
    plan: Mapping[str, Any], options: RunOptions, redactor: Redactor
) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each step's resolved config and connection, as a run would have them (``osirisc state`` reads the
    incremental state with them); every secret is registered with ``redactor``."""
    env = dict(os.environ if options.env is None else options.env)
    path = find_file(options.connections, options.base_dir.resolve(), env)
    conns = Connections.load(path, env, redactor)
    try:
        return _preflight(list(plan["steps"]), conns, env, redactor)[0]
    except RunError as exc:
        raise RunError(exc.code, redactor.text(exc.message), invalid=exc.invalid) from None


def run_plan(plan: Mapping[str, Any], options: RunOptions) -> RunResult:  # noqa: C901 — the run in order; emit() nests
    """Execute a validated plan (``plan.validate_plan``) and return its status."""
    redactor = Redactor()
    env = dict(os.environ if options.env is None else options.env)
    base_dir = options.base_dir.resolve()
    steps = list(plan["steps"])
    needs_connections = any(s.get("connection") for s in steps)
    refs = {str(m["connection"]) for s in steps for m in markers(s.get("config", {})) if m.get("connection")}
    needs_connections |= bool(refs)
    path = find_file(options.connections, base_dir, env)
    if needs_connections and path is None:
        raise RunError(
            "OSR-E310",
            "the plan uses connections but no osiris_connections.yaml was found "
            "(looked at --connections, $OSIRIS_HOME, the base directory and the working directory)",
        )
    try:
        resolved, drivers = _preflight(steps, Connections.load(path, env, redactor), env, redactor)
    except RunError as exc:  # a message about a connection may quote what the file holds: masked like the rest
        raise RunError(exc.code, redactor.text(exc.message), invalid=exc.invalid) from None
    try:
        cursors = incremental.cursors_for(plan["pipeline"]["name"], steps, resolved, base_dir)
    except StepError as exc:  # `osirisc check` reports it first (OSR-E252): a hand-made plan
        raise RunError("OSR-E330", redactor.text(str(exc))) from None
    for cursor in {id(c): c for cs in cursors.values() for c in cs}.values():
        cursor.load()  # once, at run start, from the writer's target; a failure fails the extractor

    try:
        run = RunDir(options.runs_dir, plan["pipeline"]["name"], redactor)
    except OSError as exc:
        raise RunError("OSR-E340", f"cannot create the run record under '{options.runs_dir}': {exc}") from None
    run.write_json("plan.json", plan)  # what ran (markers, never secret values): runs show / report read it
    budget = MemoryBudget(options.memory_budget)
    started = time.time()
    cancel = options.cancel
    listeners = list(options.listeners)
    listeners_lock = threading.Lock()

    def emit(kind: str, **data: Any) -> dict[str, Any]:
        record = run.event(kind, **data)
        for listener in list(listeners):
            try:
                listener(record)
            except (OSError, ValueError) as exc:  # its stream was closed (`| head`, a dead parent): SIGPIPE
                with listeners_lock:
                    if listener in listeners:
                        listeners.remove(listener)
                cancel.request(f"output closed ({type(exc).__name__})", getattr(signal, "SIGPIPE", None))
            except Exception as exc:
                with listeners_lock:
                    if listener in listeners:
                        listeners.remove(listener)
                run.event("warning", step=None, message=f"an event listener failed and was removed: {exc!r}")
        return record

    scheduler_box: list[Scheduler] = []
    contexts: dict[str, StepContext] = {}
    for s in steps:
        sid = s["id"]
        config, connection = resolved[sid]
        run.write_json(
            f"steps/{safe_name(sid)}/config.json", s.get("config", {})
        )  # the plan's config: markers, no values
        contexts[sid] = StepContext(
            step_id=sid,
            config=config,
            connection=connection,
            run_dir=run.path,
            base_dir=base_dir,
            batch_size=options.batch_size,
            memory_budget=options.memory_budget,
            progress=_progress(sid, scheduler_box, emit),
            event=_step_event(sid, run, emit),
            cancel=cancel,
            incremental=tuple(cursors.get(sid, ())),
            concurrent_consumers=options.jobs >= 2,
        )
    total = len(steps)
    run.write_status(
        {
            "ok": False,
            "state": "running",
            "pipeline": plan["pipeline"]["name"],
            "run_id": run.run_id,
            "pid": os.getpid(),
        },
        final=False,
    )
    if run.errors:  # nothing has run: no half record left behind (the next run would call it "interrupted")
        run.discard()
        raise RunError("OSR-E340", f"cannot write the run record in '{run.path}': {run.errors[0]}")
    emit(
        "run_start",
        step=None,
        pipeline=plan["pipeline"]["name"],
        run_id=run.run_id,
        steps=total,
        rows=0,
        bytes=0,
        duration_ms=0,
    )
    scheduler = (options.scheduler or Scheduler)(
        plan,
        contexts,
        drivers,
        jobs=options.jobs,
        budget=budget,
        spill_dir=run.tmp,
        emit=emit,
        redact=redactor.text,
        cancel=cancel,
    )
    scheduler_box.append(scheduler)
    if options.watch is not None:
        options.watch(scheduler.state)
    states = scheduler.run()
    failed = [sid for sid in scheduler.order if states[sid].status == "failed"]
    ok = not failed and not cancel.cancelled
    duration_ms = int((time.time() - started) * 1000)
    cancelled = None
    if cancel.cancelled:
        cancelled = {
            "reason": cancel.reason,
            "signal": signal.Signals(cancel.signum).name if cancel.signum else None,
            "steps": [sid for sid in scheduler.order if states[sid].status == "cancelled"],
            "not_stopped": list(scheduler.stuck),
        }
    error = states[failed[0]].error if failed else None
    if cancelled is not None and error is None:
        error = f"run cancelled ({cancel.reason})"
    status = {
        "ok": ok,
        "state": "cancelled" if cancelled else "finished",
        "pipeline": plan["pipeline"]["name"],
        "run_id": run.run_id,
        "duration_ms": duration_ms,
        "failed_steps": failed,
        "error": error,
        "cancelled": cancelled,
        "memory_peak_bytes": budget.peak,
        "steps": {
            sid: {
                "status": states[sid].status,
                "component": states[sid].component,
                "error": states[sid].error,
                **states[sid].counters(),
            }
            for sid in scheduler.order
        },
    }
    for sid in scheduler.order:
        for key in ("rows_in", "rows_out", "bytes_in", "bytes_out", "duration_ms"):
            run.metric(key, states[sid].counters()[key], step=sid)
    run.metric("memory_budget_peak_bytes", budget.peak, step=None)
    if cancelled is not None:
        emit("run_cancelled", **cancelled, step=None, duration_ms=duration_ms)
    emit(
        "run_complete",
        step=None,
        ok=ok,
        cancelled=cancelled is not None,
        failed_steps=failed,
        duration_ms=duration_ms,
        rows=sum(st.rows_out for st in states.values()),
        bytes=sum(st.bytes_out for st in states.values()),
    )
    if run.errors:
        status["record_errors"] = list(run.errors)
    written = run.write_status(status)
    run.close()
    errors = list(run.errors)
    if not written and not errors:
        errors.append("status.json: could not be written")
    return RunResult(
        ok,
        run.run_id,
        run.path,
        masked_status(redactor, status),
        redactor,
        cancel if cancel.cancelled else None,
        errors,
        list(scheduler.stuck),
    )


def _progress(sid: str, box: list[Scheduler], emit: Callable[..., dict[str, Any]]) -> Callable[[int, int], None]:
    """Counts a writer's loaded rows; a ``progress`` event at the first rows, then at most every second."""
    last = [0.0]

    def progress(rows: int, nbytes: int) -> None:
        if not box:
            return
        st = box[0].state[sid]
        with st.lock:
            st.rows_written += rows
            written = st.rows_written
        now = time.monotonic()
        if written and now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            emit("progress", step=sid, rows_written=written)

    return progress


def _step_event(sid: str, run: RunDir, emit: Callable[..., dict[str, Any]]) -> Callable[[str, Mapping[str, Any]], None]:
    def event(kind: str, data: Mapping[str, Any]) -> None:
        if kind == "ddl":
            statements = [str(x) for x in data.get("statements", [])]
            path = run.path / "ddl" / f"{safe_name(sid)}.sql"
            try:
                previous = path.read_text(encoding="utf-8") if path.exists() else ""
            except OSError:
                previous = ""
            run.write_text(
                f"ddl/{safe_name(sid)}.sql", previous + "".join(f"{x.rstrip().rstrip(';')};\n" for x in statements)
            )
        emit(kind, step=sid, **{k: v for k, v in data.items() if k != "step"})

    return event
