"""The run directory ``runs/<pipeline>/<run-id>/``: events, metrics, status, effective configs, executed DDL.

Every line and file passes through the run's ``Redactor`` first. Whole files (status.json, configs, ddl) are
written to a temp name and renamed, so a reader never sees half a file; events and metrics are appended one
flushed JSON line at a time.

A write that fails once the run has started (disk full, quota) never fails a step - data a writer committed
stays committed and is reported as such: the error is kept in ``errors`` and the run's outcome says the record
is incomplete. status.json exists from the start (``"state": "running"``), and ``.status.reserve``, a block of
``STATUS_RESERVE`` bytes allocated at the start, is where the final status is written in place (then renamed
over status.json) when the disk has no room left for a new file.

``tmp/`` holds spill files and drivers' temporary files (``.owner`` names the process); the next run in the same
runs folder removes a ``tmp/`` whose process is gone (killed) and marks that run's status as interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from osiris.runtime import owner
from osiris.runtime.redact import Redactor

STATUS_RESERVE = 64 * 1024
RESERVE = ".status.reserve"


def new_run_id() -> str:
    """Sortable UTC timestamp plus a short random suffix: ``20261125T230512Z-3f9a1c``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def safe_name(name: str) -> str:
    """A file name for a step id or pipeline name: itself when safe, else sanitized plus a short hash (unique)."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    if clean == name and clean:
        return clean
    return (clean or "_") + "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def masked_status(redactor: Redactor, status: dict[str, Any]) -> dict[str, Any]:
    """``status`` masked, except osirisc's own words: the run's state and id, each step's status and component
    (a password ``in`` must not turn ``finished`` into ``f***ished``, nor ``ok`` a step's status into ``***``)."""
    masked = redactor.record(status, vocabulary=("state", "run_id", "steps"))
    steps = status.get("steps")
    if isinstance(steps, dict):
        masked["steps"] = {
            sid: redactor.record(step, vocabulary=("status", "component")) if isinstance(step, dict) else step
            for sid, step in steps.items()
        }
    return masked


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


class RunDir:
    def __init__(self, runs_dir: Path, pipeline: str, redactor: Redactor, run_id: str | None = None):
        """Creates the folder, the status reserve, ``tmp/`` and the event files; raises OSError when it cannot
        (nothing has run yet), leaving no folder behind (a half-made one would be marked "interrupted" later)."""
        self.run_id = run_id or new_run_id()
        self.path = runs_dir / safe_name(pipeline) / self.run_id
        self.redactor = redactor
        self.errors: list[str] = []  # record writes that failed after the start
        self._lock = threading.Lock()
        clean_stale(runs_dir)
        self.path.mkdir(parents=True, exist_ok=False)
        self.tmp = self.path / "tmp"
        try:
            self.tmp.mkdir()
            owner.mark(self.tmp)
            with (self.path / RESERVE).open("wb") as fh:
                fh.write(b" " * STATUS_RESERVE)  # real blocks (not a sparse file), so rewriting them needs no space
            self._events = (self.path / "events.jsonl").open("a", encoding="utf-8")
            self._metrics = (self.path / "metrics.jsonl").open("a", encoding="utf-8")
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Remove the whole run folder: the run was refused before anything ran (OSR-E340)."""
        for name in ("_events", "_metrics"):
            fh = getattr(self, name, None)
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def _failed(self, what: str, exc: OSError) -> None:
        with self._lock:
            if len(self.errors) < 20:
                self.errors.append(self.redactor.text(f"{what}: {exc.strerror or exc}"))

    def event(self, kind: str, **data: Any) -> dict[str, Any]:
        record = self.redactor.record({"ts": round(time.time(), 6), "event": kind, **data})
        self._append(self._events, "events.jsonl", record)
        return record

    def metric(self, name: str, value: float | int, **tags: Any) -> None:
        record = self.redactor.record({"ts": round(time.time(), 6), "metric": name, "value": value, **tags})
        self._append(self._metrics, "metrics.jsonl", record)

    def _append(self, fh: Any, name: str, record: dict[str, Any]) -> None:
        try:
            with self._lock:
                fh.write(dumps(record) + "\n")
                fh.flush()
        except OSError as exc:
            self._failed(f"{name} ({record.get('event') or record.get('metric')})", exc)
        except ValueError:  # closed: an event after the end of the run (a step given up on)
            pass

    def write_json(self, relative: str, data: Any) -> bool:
        text = json.dumps(self.redactor.data(data), sort_keys=True, indent=2, ensure_ascii=False, default=str)
        return self._write(relative, text + "\n")

    def write_text(self, relative: str, text: str) -> bool:
        return self._write(relative, self.redactor.text(text))

    def _write(self, relative: str, text: str) -> bool:
        try:
            write_atomic(self.path / relative, text)
        except OSError as exc:
            self._failed(relative, exc)
            return False
        return True

    def write_status(self, status: dict[str, Any], *, final: bool = True) -> bool:
        """status.json (``masked_status``); the final one falls back to the reserve (compact JSON) when no new file
        can be written. Returns False when neither worked."""
        text = json.dumps(
            masked_status(self.redactor, status), sort_keys=True, indent=2, ensure_ascii=False, default=str
        )
        if not final:
            return self._write("status.json", text + "\n")
        reserve = self.path / RESERVE
        if self._write("status.json", text + "\n"):
            reserve.unlink(missing_ok=True)
            return True
        status = {**status, "record_errors": list(self.errors)}
        for data in (status, {k: status.get(k) for k in ("ok", "state", "run_id", "failed_steps", "error")}):
            text = json.dumps(masked_status(self.redactor, data), sort_keys=True, ensure_ascii=False, default=str)
            raw = text.encode()
            if len(raw) < STATUS_RESERVE:
                try:
                    with reserve.open("r+b") as fh:
                        fh.write(raw + b"\n")
                        fh.truncate()
                    reserve.replace(self.path / "status.json")
                    return True
                except OSError as exc:
                    self._failed("status.json (reserve)", exc)
                    return False
        return False

    def close(self) -> None:
        for fh in (self._events, self._metrics):
            try:
                fh.close()
            except OSError as exc:
                self._failed("closing the event files", exc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def clean_stale(runs_dir: Path) -> None:
    """Remove the ``tmp/`` of runs whose process was killed, and say so in their status.json."""
    for tmp in runs_dir.glob("*/*/tmp"):
        if not owner.stale(tmp):
            continue
        run = tmp.parent
        shutil.rmtree(tmp, ignore_errors=True)
        (run / RESERVE).unlink(missing_ok=True)
        try:
            status = json.loads((run / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = {}
        if status.get("state", "running") == "running":
            status.update(
                ok=False,
                state="interrupted",
                error="the process running this pipeline ended without recording an outcome (killed?); "
                "targets hold what its writers had committed",
            )
            with contextlib.suppress(OSError):
                write_atomic(run / "status.json", json.dumps(status, sort_keys=True, indent=2) + "\n")
