"""No generated secret appears in a run directory, a build directory, a bundle (every member, uncompressed), the
start-up cache or in what osirisc prints, on success or on failure.

The secrets reach the run through the environment (``${VAR}`` in osiris_connections.yaml), as users pass them.
PostgreSQL here trusts local connections, so any password works and the write succeeds; MariaDB's root has no
password, so a generated one is refused and the failing step's error is checked too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.testing.secrets import leaks, secret_values

pytestmark = pytest.mark.db

CONNECTIONS = """\
connections:
  postgres:
    w:
      host: 127.0.0.1
      port: 5432
      database: test
      user: postgres
      password: ${OSRT_PG_PASSWORD}
  mysql:
    m:
      host: 127.0.0.1
      port: 3306
      database: test
      user: root
      password: ${OSRT_MY_PASSWORD}
"""

PIPELINE = """\
oml_version: "0.1.0"
name: secret-scan
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data.csv
  - id: write
    component: postgres.writer
    mode: write
    needs: [read]
    config:
      connection: "@postgres.w"
      schema: {schema}
      table: {table}
      write_mode: replace
      primary_key: id
      create_if_missing: true
"""

FAILING = """\
oml_version: "0.1.0"
name: secret-scan-fail
steps:
  - id: read
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.m"
      query: SELECT 1 AS id
  - id: write
    component: filesystem.csv_writer
    mode: write
    config:
      path: out.csv
"""


def _run(folder: Path, pipeline: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "p.yaml").write_text(pipeline, encoding="utf-8")
    cmd = [sys.executable, "-m", "osiris.cli", *(args or ("run", "p.yaml", "--runs-dir", "runs"))]
    # the start-up cache is on and inside the scanned folder, so its files are checked too
    full_env = {**os.environ, **env, "OSIRIS_HOME": str(folder), "OSIRIS_CACHE_DIR": str(folder / "cache")}
    return subprocess.run(cmd, cwd=folder, env=full_env, capture_output=True, text=True, timeout=120, check=False)


def _contents(path: Path) -> list[tuple[str, bytes]]:
    """A file's bytes, and for a bundle the bytes of every member too (a gzip stream would hide a secret)."""
    out = [(str(path), path.read_bytes())]
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                data = tar.extractfile(member) if member.isfile() else None
                if data is not None:
                    out.append((f"{path}:{member.name}", data.read()))
    return out


def _scan(folder: Path, secret: str, proc: subprocess.CompletedProcess[str]) -> list[str]:
    files = [item for p in sorted(folder.rglob("*")) if p.is_file() for item in _contents(p)]
    found = [name for name, data in files if leaks(secret, data)]
    return found + [name for name, text in (("stdout", proc.stdout), ("stderr", proc.stderr)) if leaks(secret, text)]


@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pg_secret=secret_values(), my_secret=secret_values(), n=st.integers(min_value=0, max_value=3))
def test_no_secret_in_run_records_or_output(pg_schema: str, pg_secret: str, my_secret: str, n: int) -> None:
    env = {"OSRT_PG_PASSWORD": pg_secret, "OSRT_MY_PASSWORD": my_secret}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "osiris_connections.yaml").write_text(CONNECTIONS, encoding="utf-8")
        rows = "".join(f"{i},row-{i}\n" for i in range(n))
        (folder / "data.csv").write_text("id,label\n" + rows, encoding="utf-8")
        ok = _run(folder, PIPELINE.format(schema=pg_schema, table=f"t{n}"), env)
        assert ok.returncode == 0, ok.stderr
        assert (folder / "cache" / "parsed-specs.json").is_file()  # the cache was written, and is scanned
        assert _scan(folder, pg_secret, ok) == []
        built = _run(folder, PIPELINE.format(schema=pg_schema, table=f"t{n}"), env, "build", "p.yaml", "-o", "b")
        emitted = _run(folder, PIPELINE.format(schema=pg_schema, table=f"t{n}"), env, "emit", "p.yaml", "-o", "e")
        assert built.returncode == 0 and emitted.returncode == 0, built.stderr + emitted.stderr
        assert list((folder / "e").glob("*.tar.gz")), "no bundle"
        assert _scan(folder, pg_secret, built) == [] and _scan(folder, pg_secret, emitted) == []
        failed = _run(folder, FAILING, env)
        assert failed.returncode == 1, failed.stderr
        assert "[read] FAILED" in failed.stderr  # refused password, or one the client cannot even encode
        assert _scan(folder, my_secret, failed) == []
        assert _scan(folder, pg_secret, failed) == []
