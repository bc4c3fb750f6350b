"""Canonical JSON: the one byte form used for hashes and for every file a build writes.

``dumps`` is compact (sorted keys, ``(",", ":")``, UTF-8, no NaN) and is what gets hashed; ``dumps_file`` is the
same data with a two-space indent and a trailing newline, for files people read (plan.json). Both are functions
of the data alone: no dict order, locale, time zone or hash seed can change the bytes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _default(obj: Any) -> Any:
    # YAML specs may hold dates (``2024-01-01`` unquoted); they hash as their ISO text.
    if isinstance(obj, _dt.date | _dt.datetime | _dt.time):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not canonical JSON: {type(obj).__name__}")


def dumps(data: Any) -> str:
    """Compact canonical JSON (what ``sha256`` hashes)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    )


def dumps_file(data: Any) -> str:
    """Readable canonical JSON for files: two-space indent, sorted keys, trailing newline."""
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False, default=_default)
    return text + "\n"


def sha256(data: Any) -> str:
    """Hex sha256 of the canonical JSON of ``data`` (UTF-8)."""
    return hashlib.sha256(dumps(data).encode("utf-8")).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text through a temp file in the same folder and ``os.replace`` (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
