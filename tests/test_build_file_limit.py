"""``osirisc build`` and ``emit`` on a disk that cannot take the output (here ``ulimit -f``): a clear message, exit 2,
the previous output exactly as it was and no temp file. Before: "internal error ... this is a bug in osirisc"
(exit 3), a build directory mixing the new ddl.sql and fingerprints.json with the old plan.json, and emit's partial
``.NAME.bundle.tar.gz.tmp`` left behind."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _osirisc(cwd: Path, *args: str, file_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [sys.executable, "-m", "osiris.cli", *args],
        cwd=cwd,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_and_emit_leave_the_previous_output_when_a_write_fails(tmp_path: Path) -> None:
    qs = tmp_path / "qs"
    shutil.copytree(ROOT / "examples" / "quickstart", qs, ignore=shutil.ignore_patterns("output", "runs", "build"))
    assert _osirisc(qs, "build", "pipeline.yaml", "-o", "build").returncode == 0
    before = _files(qs / "build")
    text = (qs / "pipeline.yaml").read_text()
    (qs / "pipeline.yaml").write_text(text.replace("SUM(quantity) AS items", "SUM(quantity) AS n_items"))
    proc = _osirisc(qs, "build", "pipeline.yaml", "-o", "build", file_limit=4096)  # plan.json is larger
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "osirisc build: cannot write 'build': [Errno 27] File too large (left as it was)\n"
    assert _files(qs / "build") == before

    proc = _osirisc(qs, "emit", "pipeline.yaml", "-o", "bundle", file_limit=8192)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "osirisc emit: cannot write 'bundle': [Errno 27] File too large (left as it was)\n"
    assert list((qs / "bundle").iterdir()) == []
