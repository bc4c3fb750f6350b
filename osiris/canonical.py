"""Canonical JSON: the one byte form used for hashes and for every file a build writes.

``dumps`` is compact (sorted keys, ``(",", ":")``, UTF-8, no NaN) and is what gets hashed; ``dumps_file`` is the
same data with a two-space indent and a trailing newline, for files people read (plan.json). Both are functions
of the data alone: no dict order, locale, time zone or hash seed can change the bytes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
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
    """Readable canonical JSON for files: two-space indent, sorted keys, trailing newline.

    The bytes of ``json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False,
    default=_default)``, built by ``_indented`` (the stdlib encodes indented JSON in pure Python, several times
    slower); a value it does not handle itself falls back to that call."""
    out: list[str] = []
    try:
        _indented(data, out, "\n")
    except (_Fallback, TypeError):  # TypeError: keys of mixed types, which sorted() cannot order
        text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False, default=_default)
        return text + "\n"
    out.append("\n")
    return "".join(out)


class _Fallback(Exception):
    """A value ``_indented`` leaves to the stdlib encoder (its errors and its ``default`` handling)."""


_encode_str: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
_MAX_DEPTH = 200


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return str(_encode_str(value))
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and not math.isnan(value) and not math.isinf(value):
        return float.__repr__(value)
    raise _Fallback


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(_encode_str(key))
    raise _Fallback  # non-string keys: the stdlib converts (and sorts) them


def _indented(value: Any, out: list[str], newline: str) -> None:
    """Append the indented JSON of ``value``; ``newline`` is "\\n" plus the current indent."""
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        if len(newline) > _MAX_DEPTH:
            raise _Fallback
        inner = newline + "  "
        sep = "{" + inner
        for k in sorted(value):
            out.append(sep)
            out.append(_key(k))
            out.append(": ")
            _indented(value[k], out, inner)
            sep = "," + inner
        out.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        if len(newline) > _MAX_DEPTH:
            raise _Fallback
        inner = newline + "  "
        sep = "[" + inner
        for item in value:
            out.append(sep)
            _indented(item, out, inner)
            sep = "," + inner
        out.append(newline + "]")
    else:
        out.append(_scalar(value))


def sha256(data: Any) -> str:
    """Hex sha256 of the canonical JSON of ``data`` (UTF-8)."""
    return hashlib.sha256(dumps(data).encode("utf-8")).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_many(root: Path, files: dict[str, str]) -> None:
    """Write many files under ``root`` (``rel -> text``): every one to a temp file (mode 0644) first, then all are
    renamed into place, so a write that fails (disk full, ``ulimit -f``) leaves the previous files, all of them,
    and no temp file; each folder is made once."""
    made: set[Path] = set()
    written: list[tuple[str, Path]] = []
    try:
        for rel, text in files.items():
            path = root / rel
            folder = path.parent
            if folder not in made:
                folder.mkdir(parents=True, exist_ok=True)
                made.add(folder)
            data = text.encode("utf-8")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
            written.append((tmp, path))
            try:
                os.fchmod(fd, 0o644)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        for tmp, path in written:
            Path(tmp).replace(path)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise


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
