"""The workspace an agent may touch: one root folder, given when the server starts.

Every path a tool takes is resolved against the root (symlinks followed) and refused when it lands outside it.
A pipeline's own file references (a step's ``path``, a filesystem connection's ``base_dir``) are held to the
same rule before the pipeline is compiled, since compiling reads CSV headers and DuckDB files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any


class OutsideWorkspace(Exception):
    """A path that resolves outside the workspace root, or is not a usable path."""


class Workspace:
    def __init__(self, root: Path):
        self.root = root.resolve()

    def path(self, relative: str, *, must_exist: bool = False) -> Path:
        """``relative`` resolved inside the root; raises OutsideWorkspace otherwise."""
        if not isinstance(relative, str) or not relative.strip() or "\0" in relative:
            raise OutsideWorkspace(f"not a usable path: {relative!r}")
        try:  # the OS refuses some names (too long, a loop of symlinks): a reason, not a crash
            candidate = (self.root / Path(relative).expanduser()).resolve()
            exists = candidate.exists()
        except (OSError, RuntimeError) as exc:
            raise OutsideWorkspace(f"not a usable path: {_os_reason(exc)}") from None
        if candidate != self.root and self.root not in candidate.parents:
            raise OutsideWorkspace(f"'{relative}' is outside the workspace root")
        if must_exist and not exists:
            raise OutsideWorkspace(f"'{relative}' does not exist in the workspace")
        return candidate

    def display(self, path: Path) -> str:
        """A path as the agent should see it: relative to the root."""
        try:
            return path.resolve().relative_to(self.root).as_posix() or "."
        except ValueError:
            return path.name

    def check_references(self, pipeline_file: Path, configs: Iterable[dict[str, Any]]) -> list[str]:
        """Problems with file references in step configs (``path``) that point outside the root."""
        problems = []
        for config in configs:
            value = config.get("path")
            if not isinstance(value, str) or "${" in value:
                continue
            target = PurePosixPath(value)
            resolved = (pipeline_file.parent / Path(value).expanduser()).resolve()
            if (
                target.is_absolute()
                or value.startswith("~")
                or (resolved != self.root and self.root not in resolved.parents)
            ):
                problems.append(f"path '{value}' is outside the workspace root")
        return problems


def _os_reason(exc: BaseException) -> str:
    """The OS's reason without the path it was given (which may be enormous)."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
