"""A run refused because its record cannot be created (OSR-E340: here a file size limit, ``ulimit -f``, smaller
than the status reserve) leaves no half-made run folder: before, its ``tmp/`` and partial reserve stayed, and the
next run marked it "interrupted ... (killed?)", a run that never started."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from rt_helpers import plan, step


def _run(tmp_path: Path, file_limit: int | None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [sys.executable, "-m", "osiris.runtime", "plan.json", "--runs-dir", "runs"],
        cwd=tmp_path,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_refused_run_leaves_no_run_folder(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("a,b\n1,x\n2,y\n")
    (tmp_path / "out.csv").write_text("before\n")
    p = plan(
        step("read", "filesystem.csv_extractor", {"path": "in.csv"}),
        step("write", "filesystem.csv_writer", {"path": "out.csv"}, ["read"]),
        name="hs2-limit",
    )
    (tmp_path / "plan.json").write_text(json.dumps(p))
    refused = _run(tmp_path, 16 * 1024)
    assert refused.returncode == 2, refused.stderr
    assert "error[OSR-E340]: cannot create the run record under 'runs': [Errno 27] File too large" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (tmp_path / "out.csv").read_text() == "before\n"
    assert [p for p in (tmp_path / "runs").rglob("*") if not p.is_dir()] == []
    assert list((tmp_path / "runs" / "hs2-limit").iterdir()) == []
    done = _run(tmp_path, None)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "runs" / "hs2-limit").iterdir()
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert (tmp_path / "out.csv").read_text() == '"a","b"\n1,"x"\n2,"y"\n'
