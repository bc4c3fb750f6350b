"""Cancelling a run: a signal, a closed output stream or the parent's death asks; the scheduler acts.

``CancelToken.request`` only records the reason (it takes no lock, so a signal handler may call it at any
moment). The scheduler's main loop notices within ``POLL_S`` and calls ``fire``: every registered hook runs (a
driver registers what interrupts its blocking call: ``conn.cancel``, ``con.interrupt``...), channels are closed
as cancelled, and child processes the drivers started are terminated. Step threads see ``token.cancelled`` /
``Cancelled`` between batches, roll back and end; no exception is ever injected into a thread by a signal. When
the run ends, on every path, ``reap_children`` ends and waits for any child process still left.

``handle_signals`` installs the handlers for SIGINT, SIGTERM and SIGHUP on the main thread for the duration of a
run (a signal the process was started with ignored, like SIGINT of a background job, stays ignored). A second
signal while the first is still being handled (more than ``REPEAT_S`` later) ends the process at once (exit
128 + signal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

POLL_S = 0.05  # how often the scheduler looks for a request
REPEAT_S = 1.0  # a second signal within this time is the same request (a process group and a forwarder)
REAP_GRACE_S = 1.0  # how long a child process left at the run's end gets to exit on SIGTERM before SIGKILL
SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class Cancelled(Exception):
    """Raised in a step when the run was cancelled; the scheduler reports the step as ``cancelled``."""


class CancelToken:
    def __init__(self) -> None:
        self.reason: str | None = None
        self.signum: int | None = None
        self._fired = threading.Event()
        self._lock = threading.Lock()
        self._hooks: dict[int, Callable[[], None]] = {}
        self._next = 0

    # -- asking ---------------------------------------------------------------------------------------------
    def request(self, reason: str, signum: int | None = None) -> None:
        """Ask for cancellation (safe in a signal handler: plain assignments, no lock). The first reason wins."""
        if self.reason is None:
            self.signum = signum
            self.reason = reason

    @property
    def cancelled(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        """Raise ``Cancelled`` when the run was asked to stop (call between batches)."""
        if self.reason is not None:
            raise Cancelled(f"run cancelled: {self.reason}")

    @property
    def exit_code(self) -> int:
        """128 + the signal (the shell's convention), 130 (as SIGINT) when no signal caused it."""
        return 128 + (self.signum or signal.SIGINT)

    # -- acting ---------------------------------------------------------------------------------------------
    def add_hook(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call ``hook`` (from another thread) when the run is cancelled; returns the function that removes it.
        Registered after the cancellation fired, it is called at once."""
        with self._lock:
            key = self._next
            self._next += 1
            self._hooks[key] = hook
            fired = self._fired.is_set()
        if fired:
            _call(hook)

        def remove() -> None:
            with self._lock:
                self._hooks.pop(key, None)

        return remove

    @contextlib.contextmanager
    def hook(self, hook: Callable[[], None]) -> Iterator[None]:
        """``with token.hook(conn.cancel): ...`` - interrupt the blocking call inside the block on cancellation."""
        remove = self.add_hook(hook)
        try:
            yield
        finally:
            remove()

    def fire(self) -> None:
        """Run every hook once (the scheduler calls this from its main loop after a request)."""
        with self._lock:
            if self._fired.is_set():
                return
            self._fired.set()
            hooks = list(self._hooks.values())
        for hook in hooks:
            _call(hook)


def _call(hook: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):  # a hook interrupts a call that may already have ended
        hook()


def child_pids() -> list[int]:
    """This process's child processes (Linux ``/proc``; empty elsewhere)."""
    pids: list[int] = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in children.read_text().split()]
    return sorted(set(pids))


def terminate_children(keep: frozenset[int] = frozenset()) -> None:
    """SIGTERM every child process except ``keep`` (those that existed before the run): a database client a
    reader started ends, so the read blocked on its pipe returns."""
    for pid in child_pids():
        if pid in keep:
            continue
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def reap_children(keep: frozenset[int] = frozenset(), grace: float = REAP_GRACE_S) -> None:
    """End and wait for every child process except ``keep``: SIGTERM, SIGKILL to those still running after
    ``grace`` seconds, then reap them, so no process the run started outlives it (a client started just after
    the cancellation's ``terminate_children``, one whose reader was never read, one of a step given up on)."""
    pids = [pid for pid in child_pids() if pid not in keep]
    if not pids:
        return
    _kill(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (pids := [pid for pid in pids if not _reaped(pid)]) and time.monotonic() < deadline:
        time.sleep(0.01)
    _kill(pids, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):  # its Popen reaped it meanwhile
            os.waitpid(pid, 0)


def _kill(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _reaped(pid: int) -> bool:
    """Reap ``pid`` if it ended; True when it is gone (reaped here or by its ``Popen``)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


@contextlib.contextmanager
def handle_signals(token: CancelToken) -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into ``token.request`` while the block runs (main thread only; elsewhere a
    no-op). A second signal exits immediately."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, object] = {}

    first: list[float] = []

    def handler(signum: int, frame: object) -> None:
        if token.cancelled:
            if first and time.monotonic() - first[0] > REPEAT_S:
                os._exit(128 + signum)  # asked again: the user wants out now (servers roll back on disconnect)
            return  # the same request twice (a terminal's Ctrl-C and a sandbox host passing it on)
        first.append(time.monotonic())
        token.request(f"received {signal.Signals(signum).name}", signum)

    for name in SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        current = signal.getsignal(signum)
        if current == signal.SIG_IGN:
            continue  # started ignoring it (nohup, a background job): keep ignoring it
        previous[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, signal.SIG_DFL if old is None else old)  # type: ignore[arg-type]
