"""Remembers which spec texts already passed the jsonschema checks, so start-up need not repeat them (~0.1 s).

A verdict is keyed by the sha256 of the spec text together with the meta-schema, the jsonschema version and
``FORMAT`` (bump it when the checks in ``parse_spec`` change): any change to either re-validates. Only successes
are stored; a broken spec is checked (and reported) every time. The cache is one small JSON file in
``$OSIRIS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/osirisc`` or ``~/.cache/osirisc``); ``OSIRIS_CACHE_DIR=""``
disables it. Verdicts are hashes only; the parsed documents below are the spec files' own content (never a
pipeline's config or a secret). Any problem reading or writing a cache file is ignored: the checks just run.

It also keeps each spec text's parsed document (``parsed_doc``: JSON reads faster than PyYAML's constructor), and
remembers what start-up asks importlib.metadata (``installed``: the component entry points and the versions
of jsonschema and DuckDB), so a warm start neither imports it (~20 ms) nor scans every installed distribution.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib import metadata

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
    return f"osirisc-spec-cache {FORMAT}\0{jsonschema_version()}\0{meta_schema_text}\0".encode()


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
    _write_json(folder, FILE_NAME, sorted(keys[:MAX_ENTRIES]))


def jsonschema_version() -> str:
    """The installed jsonschema's version (part of every verdict key: another version may judge differently)."""
    return installed()["versions"].get("jsonschema") or "?"


INSTALLED_FILE = "installed.json"
ENTRY_POINT_GROUPS = ("osiris.components",)
VERSIONS = ("jsonschema", "duckdb")
INSTALLED_KEYS = 8
_installed: dict[str, dict[str, Any]] = {}


def _installed_key() -> str:
    """sys.path and each folder's modification time: (un)installing or upgrading a distribution adds or removes a
    ``*.dist-info`` folder in one of them, which changes that folder's time."""
    parts = [FORMAT, sys.version]
    for entry in sys.path:
        try:
            parts.append(f"{entry}\0{Path(entry or '.').stat().st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}\0-")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _ask_metadata() -> dict[str, Any]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    groups = {g: sorted([ep.name, ep.value] for ep in metadata.entry_points(group=g)) for g in ENTRY_POINT_GROUPS}
    return {"versions": versions, "entry_points": groups}


def installed() -> dict[str, Any]:
    """``{"versions": {dist: version | None}, "entry_points": {group: [[name, value], ...]}}`` as importlib.metadata
    answers for the current sys.path; remembered (per process and in ``installed.json``, the last
    ``INSTALLED_KEYS`` sys.path keys, so the ``osirisc`` script and ``python -m`` do not evict each other) under
    ``_installed_key``."""
    key = _installed_key()
    if key in _installed:
        return _installed[key]
    folder = cache_dir()
    entries: dict[str, Any] = {}
    if folder is not None:
        try:
            data = json.loads((folder / INSTALLED_FILE).read_text(encoding="utf-8"))
            found = data.get("entries") if isinstance(data, dict) else None
            entries = {k: v for k, v in found.items() if _well_formed(v)} if isinstance(found, dict) else {}
        except (OSError, ValueError, AttributeError):
            entries = {}
    answers = entries.get(key)
    if answers is None:
        answers = _ask_metadata()
        entries[key] = answers
        if folder is not None:
            _write_json(folder, INSTALLED_FILE, {"entries": dict(list(entries.items())[-INSTALLED_KEYS:])})
    _installed.clear()
    _installed[key] = answers
    return answers


def _well_formed(answers: Any) -> bool:
    if not isinstance(answers, dict) or answers.keys() != {"versions", "entry_points"}:
        return False
    versions, groups = answers["versions"], answers["entry_points"]
    return (
        isinstance(versions, dict)
        and all(v is None or isinstance(v, str) for v in versions.values())
        and isinstance(groups, dict)
        and all(
            isinstance(pairs, list)
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs)
            for pairs in groups.values()
        )
    )


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The group's entry points (``installed``); importlib.metadata is imported only when there is one."""
    pairs = installed()["entry_points"].get(group)
    if pairs is None:  # a group not remembered: ask directly
        from importlib import metadata

        return list(metadata.entry_points(group=group))
    if not pairs:
        return []
    from importlib import metadata

    return [metadata.EntryPoint(name, value, group) for name, value in pairs]


def _write_json(folder: Path, name: str, data: Any) -> None:
    """Atomic replace; any OSError is ignored (the cache is only an optimisation)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            Path(tmp).replace(folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return


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


DOCS_FILE = "parsed-specs.json"
_docs: dict[str, Any] | None = None
_docs_dirty = False


def _doc_key(text: str) -> str:
    return hashlib.sha256(f"osirisc-spec-doc {FORMAT}\0".encode() + text.encode("utf-8")).hexdigest()


def _load_docs() -> dict[str, Any]:
    global _docs
    if _docs is None:
        _docs = {}
        folder = cache_dir()
        if folder is not None:
            try:
                data = json.loads((folder / DOCS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict):
                _docs = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)}
    return _docs


def parsed_doc(text: str) -> dict[str, Any] | None:
    """The YAML document of a spec text that parsed (and validated) before, read back from JSON (a spec's YAML
    parse costs ~2 ms in PyYAML's constructor, JSON ~0.1 ms); None when unknown."""
    doc = _load_docs().get(_doc_key(text))
    return json.loads(json.dumps(doc)) if doc is not None else None  # a private copy: callers may keep it


def remember_doc(text: str, doc: Any) -> None:
    """Keep a copy of ``doc`` for ``text`` when JSON holds it exactly (no dates, no non-string keys, every value's
    type kept); ``save_docs`` writes it."""
    global _docs_dirty
    docs = _load_docs()
    key = _doc_key(text)
    if key in docs:
        return
    try:
        copy = json.loads(json.dumps(doc))
    except (TypeError, ValueError):
        return
    if copy == doc and _same_types(copy, doc):
        docs[key] = copy
        _docs_dirty = True


def _same_types(a: Any, b: Any) -> bool:
    """``==`` says 1 == 1.0 == True; a cached document must also keep every value's type."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


def save_docs() -> None:
    """Write the documents remembered in this process (once, after a registry load), newest kept, bounded."""
    global _docs_dirty
    folder = cache_dir()
    if not _docs_dirty or folder is None or _docs is None:
        return
    _docs_dirty = False
    _write_json(folder, DOCS_FILE, dict(list(_docs.items())[-MAX_ENTRIES:]))
