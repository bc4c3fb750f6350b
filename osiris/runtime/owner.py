"""Which process owns a temporary folder, so the next start can remove what a killed process left behind.

``mark(folder)`` writes ``.owner`` holding this process's pid, start time and host name; ``stale(folder)`` is True
when that process is gone (a pid reused by a newer process has another start time). A folder marked on another
host (a shared file system, another container) is never judged. Without ``/proc`` only the pid is checked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
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
    (folder / OWNER).write_text(f"{pid} {_start_time(pid) or '-'} {socket.gethostname()}\n", encoding="utf-8")


def stale(folder: Path) -> bool:
    """True when ``folder``'s owner process has ended; False when it runs, or the folder has no readable mark."""
    try:
        pid_text, started, host = (folder / OWNER).read_text(encoding="utf-8").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    if not _alive(pid):
        return True
    return started != "-" and _start_time(pid) not in ("", started)


def remove_stale(folders: list[Path]) -> list[Path]:
    """Remove each folder whose owner is gone; returns those removed."""
    removed = []
    for folder in folders:
        if stale(folder):
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)
                removed.append(folder)
    return removed
