"""``.owner`` marks: what the next start may remove after a process was killed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from osiris.runtime import owner


def _marked(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / owner.OWNER).write_text(text, encoding="utf-8")
    return folder


def test_stale_only_when_the_owner_is_gone_on_this_host(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    owner.mark(mine)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = (mine / owner.OWNER).read_text().split()[1]
        host = socket.gethostname()
        live = _marked(tmp_path / "live", f"{child.pid} {owner._start_time(child.pid)} {host}\n")
        reused = _marked(tmp_path / "reused", f"{child.pid} 1 {host}\n")  # same pid, another process's start
        elsewhere = _marked(tmp_path / "elsewhere", f"{child.pid + 10**7} {start} another-host\n")
        unmarked = tmp_path / "unmarked"
        unmarked.mkdir()
        assert not owner.stale(mine) and not owner.stale(live) and owner.stale(reused)
        assert not owner.stale(elsewhere) and not owner.stale(unmarked)
    finally:
        child.kill()
        child.wait()
    assert owner.stale(live)  # its process has ended
    removed = owner.remove_stale(sorted(tmp_path.iterdir()))
    assert removed == [live, reused] and sorted(p.name for p in tmp_path.iterdir()) == [
        "elsewhere",
        "mine",
        "unmarked",
    ]
    assert os.getpid() == int((mine / owner.OWNER).read_text().split()[0])
