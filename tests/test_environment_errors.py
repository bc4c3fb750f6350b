"""DuckDB or pyarrow that cannot be loaded (a broken install, a missing shared library, a memory limit) is one
environment error, exit 3, for every command: not "cannot sniff data.csv" blaming the file, SQL syntax errors, an
"internal compiler error" or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PIPELINE = """\
oml_version: "0.1.0"
name: hs2-env
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data.csv}
  - id: total
    component: duckdb.processor
    mode: transform
    needs: [read]
    config: {query: "SELECT SUM(n) AS total FROM input_df"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [total]
    config: {path: out.csv}
"""

BROKEN = {
    "duckdb": (
        "duckdb.py",
        "raise ImportError('libduckdb.so: cannot open shared object file')",
        "cannot load 'duckdb' (ImportError: libduckdb.so: cannot open shared object file)",
    ),
    "pyarrow": (
        "pyarrow/__init__.py",
        "raise ImportError('libarrow.so: cannot open shared object file')",
        "cannot load 'pyarrow' (ImportError: libarrow.so: cannot open shared object file)",
    ),
    "duckdb-connect": (  # imports, but no in-memory database can open (what a tight `ulimit -v` does)
        "duckdb.py",
        "class Error(Exception): pass\n"
        "def connect(*args, **kwargs): raise Error('Out of Memory Error: could not allocate block of size 256 KiB')",
        "cannot load 'duckdb' (ImportError: DuckDB cannot open an in-memory database: Out of Memory Error",
    ),
}


def _osirisc(tmp_path: Path, broken: str, *args: str) -> subprocess.CompletedProcess[str]:
    fake, code, _ = BROKEN[broken]
    # DuckDB 2's engine is the extension module `_duckdb` (the compiler imports only it), the package re-exports it
    fakes = [fake, "_duckdb.py"] if fake == "duckdb.py" else [fake]
    for name in fakes:
        (tmp_path / "fake" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fake" / name).write_text(code + "\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake"), "OSIRIS_CACHE_DIR": ""}
    env.pop("OSIRIS_DEBUG", None)
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("broken", sorted(BROKEN))
@pytest.mark.parametrize("command", ["check", "build", "run"])
def test_an_engine_that_cannot_load_is_one_environment_error(tmp_path: Path, broken: str, command: str) -> None:
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "data.csv").write_text("n\n1\n2\n")
    extra = ["-o", "build"] if command == "build" else []
    proc = _osirisc(tmp_path, broken, "-m", "osiris.cli", command, "pipeline.yaml", *extra)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"osirisc: {BROKEN[broken][2]}"), proc.stderr
    assert "broken or incomplete: reinstall osirisc's dependencies" in proc.stderr
    for wrong in ("OSR-W202", "OSR-E203", "OSR-E009", "internal", "Traceback"):
        assert wrong not in proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "build").exists()


def test_the_bare_runtime_too(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{}")
    proc = _osirisc(tmp_path, "pyarrow", "-m", "osiris.runtime", "plan.json")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith(f"osiris.runtime: {BROKEN['pyarrow'][2]}"), proc.stderr
    assert "Traceback" not in proc.stderr
