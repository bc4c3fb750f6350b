"""One step (or one partition of a step) inside a Ray actor: the same driver the local scheduler runs.

The actor is created with the step's plan entry (``$secret`` markers, never values), the connections file's path
and the base directory; it resolves the step's connection and secrets itself (``engine._preflight``: the same code
and refusals as a local run) from that file and the worker's own environment. So no secret is ever a task or actor
argument (Ray keeps those, and a runtime_env, in its logs and state API); on a cluster the variables the
connections file names are set on each node before ``ray start`` (docs/distributed.md).

Batches: a producer ``ray.put``s every batch of its output once and appends the ObjectRef to one queue per consumer;
a consumer pulls refs with ``take`` (a list of refs is not resolved by Ray, so the data goes store to store, never
through the coordinator) and reads each batch zero-copy from the object store. A producer never waits for its
consumers (the object store spills to disk), as a local producer never waits (channels spill): no deadlock.

The coordinator (``scheduler.RayScheduler``) polls ``poll``: state, counters, the driver's events and progress.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from osiris.runtime import drift
from osiris.runtime.cancel import Cancelled, CancelToken, child_pids, terminate_children
from osiris.runtime.connections import Connections
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.exports import rows_of
from osiris.runtime.redact import Redactor
from osiris.runtime.streams import UpstreamFailed

TAKE_WAIT_S = 0.5  # how long ``take`` waits for a batch before answering "more" (so cancellation is seen)
TAKE_MAX = 64  # refs handed over per ``take``


class UpstreamDied(Exception):
    """The Ray worker of an upstream step ended (killed, node lost) while this step read from it."""

    def __init__(self, step_id: str, cause: str):
        super().__init__(f"the Ray worker of upstream step '{step_id}' died: {cause}")
        self.step_id = step_id


def first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # a RayTaskError wraps what the remote method raised
    if isinstance(cause, BaseException):
        exc = cause
    if isinstance(exc, StepError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class StepWorker:
    """Ray actor class (``ray.remote(StepWorker)``, threaded: ``take``/``poll`` run while ``start``'s thread does)."""

    def __init__(
        self,
        step: Mapping[str, Any],
        base_dir: str,
        connections: str | None,
        *,
        batch_size: int,
        memory_budget: int,
        consumers: list[str],
    ):
        self.step = dict(step)
        self.consumers = list(consumers)
        self.redactor = Redactor()
        self.token = CancelToken()
        self.keep = frozenset(child_pids())  # processes that are not this step's (a driver's client is)
        self.cond = threading.Condition()
        self.queues: dict[str, collections.deque[Any]] = {c: collections.deque() for c in consumers}
        self.state = "new"  # new | running | ok | failed | cancelled
        self.kind: str | None = None  # why it did not end ok: step | upstream | cancelled | drift
        self.error: str | None = None
        self.code: str | None = None
        self.upstream: str | None = None
        self.schema: pa.Schema | None = None
        self.counters = dict.fromkeys(("rows_in", "bytes_in", "rows_out", "bytes_out", "rows_written", "bytes_w"), 0)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.work = Path(tempfile.mkdtemp(prefix="osiris-ray-"))
        (self.work / "tmp").mkdir()
        self.driver_cls: Any = None
        self.ctx: StepContext | None = None
        try:
            from osiris.runtime.engine import _preflight  # the local run's resolution and refusals

            env = dict(os.environ)
            path = Path(connections) if connections else None
            resolved, drivers = _preflight([self.step], Connections.load(path, env, self.redactor), env, self.redactor)
            config, connection = resolved[self.step["id"]]
            self.driver_cls = drivers[self.step["id"]]
            self.ctx = StepContext(
                step_id=self.step["id"],
                config=config,
                connection=connection,
                run_dir=self.work,
                base_dir=Path(base_dir),
                batch_size=batch_size,
                memory_budget=memory_budget,
                progress=self._progress,
                event=self._event,
                cancel=self.token,
            )
        except Exception as exc:
            shutil.rmtree(self.work, ignore_errors=True)
            message = getattr(exc, "message", None) or str(exc)
            self._end("failed", "step", self.redactor.text(f"{getattr(exc, 'code', '')} {message}".strip()))

    # -- what the coordinator calls ---------------------------------------------------------------------------
    def ping(self) -> int:
        return os.getpid()

    def read(self, query: str) -> None:
        """Read ``query`` instead of the step's table/query (a partition's range, a probe): the config's
        ``table``/``columns``/``schema``/``query``/``partition`` give way to it; connection and secrets stay."""
        from osiris.backends.ray.partition import config_with_query

        self.step = {**self.step, "config": config_with_query(self.step.get("config") or {}, query)}
        if self.ctx is not None:
            self.ctx.config = config_with_query(self.ctx.config, query)

    def start(self, inputs: Mapping[str, list[Any]], names: Mapping[str, str], query: str | None = None) -> int:
        """Run the driver in a thread. ``inputs``: producer step -> its workers' handles (one per partition);
        ``names``: SQL input name -> producer step; ``query``: see ``read``. Returns this worker's pid."""
        if query is not None:
            self.read(query)
        if self.state == "new":
            self.state = "running"
            threading.Thread(target=self._run, args=(dict(inputs), dict(names)), daemon=True).start()
        return os.getpid()

    def collect(self, query: str) -> list[dict[str, Any]]:
        """Run the (read) driver on ``query`` to the end and return its rows: a small probe (a partition's bounds).
        The worker stays ready for ``start`` with its own query (a partition reuses the probe's process)."""
        if self.ctx is None:
            raise StepError(self.error or "step could not be prepared")
        step, config = self.step, self.ctx.config
        try:
            self.read(query)
            out = self.driver_cls({**self.step, "schema": None}, self.ctx).run({})
            return out.read_all().to_pylist() if out is not None else []
        except StepError as exc:
            raise StepError(self.redactor.text(str(exc))) from None
        except Exception as exc:
            raise StepError(self.redactor.text(first_line(exc))) from None
        finally:
            self.step, self.ctx.config = step, config

    def take(self, consumer: str) -> dict[str, Any]:
        """The next refs for ``consumer`` (waits up to TAKE_WAIT_S); ``state`` more | end | failed | cancelled."""
        deadline = time.monotonic() + TAKE_WAIT_S
        with self.cond:
            q = self.queues[consumer]
            while not q and self.state in ("new", "running") and (left := deadline - time.monotonic()) > 0:
                self.cond.wait(left)
            if q:
                refs = [q.popleft() for _ in range(min(len(q), TAKE_MAX))]
                return {"state": "more", "refs": refs, "schema": self.schema}
            if self.state in ("new", "running"):
                return {"state": "more", "refs": [], "schema": self.schema}
            if self.state == "ok":
                return {"state": "end", "refs": [], "schema": self.schema}
            return {"state": self.state, "refs": [], "schema": self.schema, "error": self.error}

    def poll(self) -> dict[str, Any]:
        with self.cond:
            events, self.events = self.events, []
            return {
                "state": self.state,
                "kind": self.kind,
                "error": self.error,
                "code": self.code,
                "upstream": self.upstream,
                "counters": dict(self.counters),
                "events": events,
                "pid": os.getpid(),
            }

    def cancel(self, reason: str) -> None:
        """As the local scheduler cancels: the token (readers raise, hooks interrupt blocking calls), then the
        client processes the driver started (a reader blocked on their pipe returns)."""
        self.token.request(reason)
        self.token.fire()
        terminate_children(self.keep)
        with self.cond:
            self.cond.notify_all()

    # -- inside -----------------------------------------------------------------------------------------------
    def _progress(self, rows: int, nbytes: int) -> None:
        with self.cond:
            self.counters["rows_written"] += rows
            self.counters["bytes_w"] += nbytes

    def _event(self, kind: str, data: Mapping[str, Any]) -> None:
        with self.cond:
            self.events.append((kind, self.redactor.data(dict(data))))

    def _count(self, rows_key: str, bytes_key: str, batch: pa.RecordBatch) -> None:
        with self.cond:
            self.counters[rows_key] += rows_of(batch)
            self.counters[bytes_key] += batch.nbytes

    def _end(self, state: str, kind: str | None = None, error: str | None = None, **extra: Any) -> None:
        with self.cond:
            self.state, self.kind, self.error = state, kind, error
            self.code = extra.get("code")
            self.upstream = extra.get("upstream")
            self.cond.notify_all()

    def _run(self, inputs: dict[str, list[Any]], names: dict[str, str]) -> None:
        import ray

        try:
            readers = {p: self._reader(p, handles) for p, handles in inputs.items()}
            out = self.driver_cls(self.step, self.ctx).run({name: readers[p] for name, p in names.items()})
            if out is not None:
                drift.check_stream(self.step, out)  # before any batch reaches a consumer
                with self.cond:
                    self.schema = out.schema
                for batch in out:
                    self.token.check()
                    ref = ray.put(batch)
                    self._count("rows_out", "bytes_out", batch)
                    with self.cond:
                        for q in self.queues.values():
                            q.append(ref)
                        self.cond.notify_all()
            elif self.consumers:
                raise StepError(
                    f"step '{self.step['id']}' produced no output but {len(self.consumers)} step(s) read it"
                )
        except Cancelled as exc:
            self._end("cancelled", "cancelled", str(exc))
        except (UpstreamFailed, UpstreamDied) as exc:
            self._end("failed", "upstream", str(exc), upstream=exc.step_id)
        except drift.SchemaDrift as exc:
            self._end("failed", "drift", self.redactor.text(str(exc)), code=exc.code)
        except StepError as exc:
            self._end("failed", "cancelled" if self.token.cancelled else "step", self.redactor.text(str(exc)))
        except Exception as exc:
            kind = "cancelled" if self.token.cancelled else "step"
            self._end("failed", kind, self.redactor.text(f"{type(exc).__name__}: {exc}"))
        else:
            self._end("ok")
        finally:
            shutil.rmtree(self.work, ignore_errors=True)  # the driver's temporary files (the step has ended)

    def _reader(self, producer: str, handles: list[Any]) -> pa.RecordBatchReader:  # noqa: C901 — 3 closures share q
        """One reader over every worker of ``producer`` (its partitions, interleaved as their batches come)."""
        import ray

        q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4 * len(handles) + 4)
        schemas: list[pa.Schema] = []
        got_schema = threading.Event()

        def put(item: tuple[str, Any]) -> None:
            while not self.token.cancelled:
                with contextlib.suppress(queue.Full):
                    q.put(item, timeout=0.2)
                    return

        def pull(handle: Any) -> None:
            try:
                while not self.token.cancelled:
                    answer = ray.get(handle.take.remote(self.step["id"]))
                    if answer["schema"] is not None and not got_schema.is_set():
                        schemas.append(answer["schema"])
                        got_schema.set()
                    for ref in answer["refs"]:
                        put(("batch", ref))
                    if answer["state"] != "more":
                        put((answer["state"], answer.get("error")))
                        got_schema.set()
                        return
            except Exception as exc:  # the producer's actor died (RayActorError) or Ray itself is gone
                put(("died", first_line(exc)))
                got_schema.set()

        for handle in handles:
            threading.Thread(target=pull, args=(handle,), daemon=True).start()
        while not got_schema.wait(0.2):
            self.token.check()
        if not schemas:  # the first answer was an end: look at it
            kind, value = q.get()
            self._raise(producer, kind, value)
            raise UpstreamFailed(producer)  # ended without output: not a producer
        schema = schemas[0]

        def batches() -> Iterator[pa.RecordBatch]:
            done = 0
            while done < len(handles):
                try:
                    kind, value = q.get(timeout=0.2)
                except queue.Empty:
                    self.token.check()
                    continue
                if kind == "end":
                    done += 1
                    continue
                if kind != "batch":
                    self._raise(producer, kind, value)
                try:
                    batch = ray.get(value)
                except Exception as exc:  # the batch's owner (the producer's worker) died
                    raise UpstreamDied(producer, first_line(exc)) from None
                if batch.schema != schema:  # another partition typed a column otherwise (all NULL there)
                    batch = pa.Table.from_batches([batch]).cast(schema).combine_chunks().to_batches()[0]
                self._count("rows_in", "bytes_in", batch)
                yield batch

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _raise(self, producer: str, kind: str, value: Any) -> None:
        if kind == "cancelled":
            raise Cancelled(str(value or "run cancelled"))
        if kind == "died":
            raise UpstreamDied(producer, str(value))
        if kind != "end":
            raise UpstreamFailed(producer)
