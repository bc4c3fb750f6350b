"""Peak RSS of a whole run stays flat as the table grows (tee to a fast and a slow consumer, 16 MiB budget)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rt_helpers import plan, step

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import resource, sys
from osiris.runtime.cli import main
code = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def _peak_rss_mib(tmp_path: Path, batches: int) -> float:
    p = plan(
        step("src", "test.extractor", {"batches": batches, "rows": 65_536}, driver="rt_drivers:Numbers"),  # 512 KiB
        step("fast", "test.writer", {}, ["src"], driver="rt_drivers:Sink"),
        step("slow", "test.writer", {"delay": 0.5}, ["src"], driver="rt_drivers:Sink"),
    )
    path = tmp_path / f"plan-{batches}.json"
    path.write_text(json.dumps(p))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(path),
            "--memory-budget",
            "16",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--format",
            "json",
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{ROOT}:{Path(__file__).parent}",
            "OSIRIS_DRIVER_MODULES": "rt_drivers",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout[: proc.stdout.rindex("MAXRSS_KB")])
    assert status["steps"]["slow"]["rows_in"] == batches * 65_536
    return int(proc.stdout.rsplit("MAXRSS_KB", 1)[1]) / 1024


def test_peak_rss_does_not_grow_with_table_size(tmp_path: Path) -> None:
    small = _peak_rss_mib(tmp_path, 32)  # 16 MiB of data
    big = _peak_rss_mib(tmp_path, 512)  # 256 MiB of data, all of it waiting for the slow consumer
    print(f"peak RSS: {small:.0f} MiB for 16 MiB, {big:.0f} MiB for 256 MiB")
    assert big < small + 48, (small, big)
