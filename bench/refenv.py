"""The reference tools' virtualenv (bench/.venv-ref), built from bench/requirements-ref.txt (pinned) on first use
and rebuilt when that file changes. The project's own venv never gets dlt, pandas or connectorx."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.settings import BENCH_DIR

REQUIREMENTS = BENCH_DIR / "requirements-ref.txt"


def ensure(venv: Path, log: Callable[[str], None]) -> str | None:
    """Create or update the venv; None when ready, else why it could not be made (the refs are then skipped)."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = venv / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == want:
        return None
    log(f"setting up the reference tools in {venv} (once) ...")
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
    ]
    for argv in steps:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode:
            return f"{' '.join(argv[:4])} failed: {proc.stderr.strip()[-800:]}"
    stamp.write_text(want)
    return None


def versions(python: Path) -> dict[str, str]:
    """Versions of the reference packages actually installed."""
    if not python.exists():
        return {}
    code = (
        "import importlib.metadata as m\n"
        "for n in ('dlt','connectorx','pandas','SQLAlchemy','PyMySQL','psycopg2-binary','pyarrow'):\n"
        "    try: print(n, m.version(n))\n"
        "    except Exception: pass\n"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
