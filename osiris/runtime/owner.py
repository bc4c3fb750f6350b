"""Which process owns a temporary folder, so the next start can remove what a killed process left behind.

``mark(folder)`` writes ``.owner`` holding this process's pid and start time; ``stale(folder)`` is True when
that process is gone (a pid reused by a newer process has another start time). Without ``/proc`` the start time
is unknown and only the pid is checked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

OWNER = ".owner"


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 (starttime), counted after the "(comm)" field


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark(folder: Path) -> None:
    pid = os.getpid()
    (folder / OWNER).write_text(f"{pid} {_start_time(pid)}\n", encoding="ascii")


def stale(folder: Path) -> bool:
    """True when ``folder``'s owner process has ended; False when it runs, or the folder has no readable mark."""
    try:
        fields = (folder / OWNER).read_text(encoding="ascii").split()
        pid = int(fields[0])
    except (OSError, ValueError, IndexError):
        return False
    if pid == os.getpid():
        return False
    if not _alive(pid):
        return True
    started = fields[1] if len(fields) > 1 else ""
    return bool(started) and _start_time(pid) not in ("", started)


def remove_stale(folders: list[Path]) -> list[Path]:
    """Remove each folder whose owner is gone; returns those removed."""
    removed = []
    for folder in folders:
        if stale(folder):
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)
                removed.append(folder)
    return removed
