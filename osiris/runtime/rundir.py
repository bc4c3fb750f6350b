"""The run directory ``runs/<pipeline>/<run-id>/``: events, metrics, status, effective configs, executed DDL.

Every line and file passes through the run's ``Redactor`` first. Whole files (status.json, configs, ddl) are
written to a temp name and renamed, so a reader never sees half a file; events and metrics are appended one
flushed JSON line at a time.
"""

from __future__ import annotations

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

from osiris.runtime.redact import Redactor


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


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


class RunDir:
    def __init__(self, runs_dir: Path, pipeline: str, redactor: Redactor, run_id: str | None = None):
        self.run_id = run_id or new_run_id()
        self.path = runs_dir / safe_name(pipeline) / self.run_id
        self.path.mkdir(parents=True, exist_ok=False)
        self.tmp = self.path / "tmp"
        self.tmp.mkdir()
        self.redactor = redactor
        self._lock = threading.Lock()
        self._events = (self.path / "events.jsonl").open("a", encoding="utf-8")
        self._metrics = (self.path / "metrics.jsonl").open("a", encoding="utf-8")

    def event(self, kind: str, **data: Any) -> dict[str, Any]:
        record = self.redactor.record({"ts": round(time.time(), 6), "event": kind, **data})
        with self._lock:
            self._events.write(dumps(record) + "\n")
            self._events.flush()
        return record

    def metric(self, name: str, value: float | int, **tags: Any) -> None:
        record = self.redactor.record({"ts": round(time.time(), 6), "metric": name, "value": value, **tags})
        with self._lock:
            self._metrics.write(dumps(record) + "\n")
            self._metrics.flush()

    def write_json(self, relative: str, data: Any) -> None:
        text = json.dumps(self.redactor.data(data), sort_keys=True, indent=2, ensure_ascii=False, default=str)
        write_atomic(self.path / relative, text + "\n")

    def write_text(self, relative: str, text: str) -> None:
        write_atomic(self.path / relative, self.redactor.text(text))

    def close(self) -> None:
        self._events.close()
        self._metrics.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
