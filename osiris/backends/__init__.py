"""Backends: emitters of a compiled pipeline. A registry of name -> lazy loader, plus entry points.

A backend is an object with a ``name`` and ``emit(compiled, out_dir) -> list[str]`` (the files it wrote, relative
to ``out_dir``, in a stable order). Built-ins are listed in ``BUILTIN`` as ``"module:attr"``; other packages add
backends through the ``osiris.backends`` entry-point group. Nothing is imported until a backend is asked for; two
backends with one name are an error (``BackendError``), and so is a loaded backend whose ``name`` differs from its key.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from osiris.compile import CompileResult

ENTRY_POINT_GROUP = "osiris.backends"

BUILTIN: dict[str, str] = {
    "local": "osiris.backends.local:LocalBackend",
    "e2b": "osiris.backends.e2b:E2BBackend",
    "ray": "osiris.backends.ray:RayBackend",
}


class BackendError(Exception):
    """A backend that cannot be used: unknown, defined twice, or broken."""


class Backend(Protocol):
    name: str

    def emit(self, compiled: CompileResult, out_dir: Path) -> list[str]: ...


def _from_path(target: str) -> Callable[[], Any]:
    def load() -> Any:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    return load


def loaders(entry_points: list[metadata.EntryPoint] | None = None) -> dict[str, Callable[[], Any]]:
    """Name -> loader for every backend; a name given twice is a BackendError naming both origins."""
    found: dict[str, Callable[[], Any]] = {name: _from_path(t) for name, t in BUILTIN.items()}
    origin = {name: f"built-in {t}" for name, t in BUILTIN.items()}
    eps = entry_points if entry_points is not None else list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    for ep in sorted(eps, key=lambda e: (e.name, e.value)):
        if ep.name in found:
            raise BackendError(f"backend '{ep.name}' from entry point {ep.value} clashes with {origin[ep.name]}")
        found[ep.name] = ep.load
        origin[ep.name] = f"entry point {ep.value}"
    return dict(sorted(found.items()))


@functools.cache
def _default_loaders() -> dict[str, Callable[[], Any]]:
    return loaders()


def names() -> list[str]:
    return list(_default_loaders())


def get_backend(name: str) -> Backend:
    """An instance of the named backend (a class is instantiated without arguments)."""
    table = _default_loaders()
    if name not in table:
        raise BackendError(f"unknown backend '{name}' (available: {', '.join(table)})")
    obj = table[name]()
    backend: Backend = obj() if isinstance(obj, type) else obj
    if getattr(backend, "name", None) != name:
        raise BackendError(f"backend registered as '{name}' calls itself {getattr(backend, 'name', None)!r}")
    return backend
