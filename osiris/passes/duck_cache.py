"""DuckDB's answers to infer_schemas, kept across runs: a warm compile need not import or start DuckDB, nor import
pyarrow for a CSV sample (bench/README.md, "Start-up": the quickstart's check in about a third of its cold time).

Three kinds of answer, each keyed by everything it depends on plus the installed DuckDB version:

- a DESCRIBE of a query: the query text and the ``CREATE TABLE`` of each input table it names (the same key as
  the pass's in-run memo; the answer is a function of them);
- a CSV read plan (``infer_schemas.plan_csv``: DuckDB's sniff checked by reading the first block as the run
  will): the file's absolute path, size, inode and modification/change times in nanoseconds (any write changes
  the change time, which no user call can set back), and the config fields the plan depends on;
- that a query parses (its text).

Only successes are stored, so every SQL error and unreadable file is reported by DuckDB itself, as before. The
answers live in one JSON file in ``$OSIRIS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/osirisc`` or ``~/.cache/osirisc``;
``""`` disables); a missing, broken or unwritable file only means asking DuckDB. They hold column names, types and
CSV dialects, never data or secrets.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILE_NAME = "duckdb-answers.json"
FORMAT = "2"  # bump when an answer's shape or the rules producing it change
MAX_ENTRIES = 4096


def cache_dir() -> Path | None:
    """The cache folder, or None when disabled (``OSIRIS_CACHE_DIR`` set to the empty string) or homeless."""
    explicit = os.environ.get("OSIRIS_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    try:
        base = Path(xdg) if xdg else Path("~").expanduser() / ".cache"
    except RuntimeError:  # no home folder (HOME unset, no passwd entry)
        return None
    return base / "osirisc" if base.is_absolute() else None  # never a folder under the working directory


def _duckdb_version() -> str | None:
    from importlib import metadata  # already imported by the registry (entry points)

    try:
        return metadata.version("duckdb")
    except metadata.PackageNotFoundError:
        return None


class DuckAnswers:
    """Stored answers: ``get``/``put`` by key parts, ``save`` writes new ones (atomic replace, bounded size)."""

    def __init__(self) -> None:
        self._folder = cache_dir()
        self._version = _duckdb_version() if self._folder is not None else None
        self._old: dict[str, Any] = {}
        self._new: dict[str, Any] = {}
        if self._folder is None or self._version is None:
            self._folder = None
            return
        try:
            data = json.loads((self._folder / FILE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            self._old = data

    def key(self, kind: str, *parts: str) -> str:
        text = "\0".join((FORMAT, str(self._version), kind, *parts))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> Any:
        if self._folder is None:
            return None
        return self._new.get(key, self._old.get(key))

    def put(self, key: str, value: Any) -> None:
        if self._folder is not None:
            self._new[key] = value

    def save(self) -> None:
        if self._folder is None or not self._new:
            return
        merged = dict(self._new)
        for k, v in self._old.items():
            if len(merged) >= MAX_ENTRIES:
                break
            merged.setdefault(k, v)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", suffix=".tmp", dir=self._folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(merged, fh, sort_keys=True, ensure_ascii=False)
                Path(tmp).replace(self._folder / FILE_NAME)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self._old, self._new = merged, {}


def file_identity(path: str) -> str | None:
    """What a read plan of ``path`` is keyed by (None when it cannot be stat'ed)."""
    try:
        st = Path(path).resolve().stat()
    except OSError:
        return None
    return f"{Path(path).resolve()}\0{st.st_size}:{st.st_ino}:{st.st_dev}:{st.st_mtime_ns}:{st.st_ctime_ns}"
