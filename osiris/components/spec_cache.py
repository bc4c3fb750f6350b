"""Remembers which spec texts already passed the jsonschema checks, so start-up need not repeat them (~0.1 s).

A verdict is keyed by the sha256 of the spec text together with the meta-schema, the jsonschema version and
``FORMAT`` (bump it when the checks in ``parse_spec`` change): any change to either re-validates. Only successes
are stored; a broken spec is checked (and reported) every time. The cache is one small JSON file in
``$OSIRIS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/osirisc`` or ``~/.cache/osirisc``); ``OSIRIS_CACHE_DIR=""``
disables it. It holds hashes only, never spec content or secrets, and any problem reading or writing it is
ignored: the checks just run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

FORMAT = "1"
FILE_NAME = "validated-specs.json"
MAX_ENTRIES = 512


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


@functools.cache
def _salt(meta_schema_text: str) -> bytes:
    try:
        version = metadata.version("jsonschema")
    except metadata.PackageNotFoundError:  # pragma: no cover - jsonschema is a dependency
        version = "?"
    return f"osirisc-spec-cache {FORMAT}\0{version}\0{meta_schema_text}\0".encode()


def key(text: str, meta_schema_text: str) -> str:
    """The verdict key of one spec text."""
    return hashlib.sha256(_salt(meta_schema_text) + text.encode("utf-8")).hexdigest()


@functools.cache
def known() -> set[str]:
    """The keys known to be valid, read once per process (empty when disabled, missing or unreadable)."""
    folder = cache_dir()
    if folder is None:
        return set()
    try:
        data = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, list):
        return set()
    return {k for k in data if isinstance(k, str) and len(k) == 64}


def remember(new: str) -> None:
    """Record a key as valid, here and in the file (atomic replace; concurrent writers may drop each other's keys,
    which only costs a re-check)."""
    seen = known()
    seen.add(new)
    folder = cache_dir()
    if folder is None:
        return
    keys = [new, *sorted(seen - {new})]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(sorted(keys[:MAX_ENTRIES]), fh)
            Path(tmp).replace(folder / FILE_NAME)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return


def jsonschema_version() -> str:
    """The installed jsonschema's version (part of every verdict key: another version may judge differently)."""
    try:
        return metadata.version("jsonschema")
    except metadata.PackageNotFoundError:  # pragma: no cover - jsonschema is a dependency
        return "?"


class Verdicts:
    """A set of hex keys judged valid, kept in ``<cache dir>/<file_name>``: read on creation, ``add`` collects new
    keys in memory, ``save`` writes them all at once (atomic replace, at most ``limit`` keys, newest first)."""

    def __init__(self, file_name: str, limit: int = 8192) -> None:
        self.file_name, self.limit = file_name, limit
        self.folder = cache_dir()
        self._old: list[str] = []
        self._known: set[str] = set()
        self._new: dict[str, None] = {}
        if self.folder is None:
            return
        try:
            data = json.loads((self.folder / file_name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, list):
            self._old = [k for k in data if isinstance(k, str) and len(k) == 64]
        self._known = set(self._old)

    def __contains__(self, key: object) -> bool:
        return key in self._new or key in self._known

    def add(self, key: str) -> None:
        if self.folder is not None and key not in self:
            self._new[key] = None

    def save(self) -> None:
        if self.folder is None or not self._new:
            return
        keys = [*reversed(self._new), *self._old][: self.limit]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.file_name}.", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(keys, fh)
                Path(tmp).replace(self.folder / self.file_name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self._old, self._known, self._new = keys, set(keys), {}
