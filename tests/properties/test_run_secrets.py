"""No generated secret appears in a run directory, a build directory, a bundle (every member, uncompressed), the
start-up cache or in what osirisc prints, on success or on failure.

The secrets reach the run through the environment (``${VAR}`` in osiris_connections.yaml), as users pass them.
PostgreSQL here trusts local connections, so any password works and the write succeeds; MariaDB's root has no
password, so a generated one is refused and the failing step's error is checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
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
        assert (folder / "cache" / "duckdb-answers.json").is_file()  # the cache was written, and is scanned
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


# -- the one secrets model, end to end: any resolved secret is masked in everything osirisc writes or prints ------
EVENT_WORDS = ("event", "rows", "steps", "step", "component", "status", "error", "message", "bytes", "metric", "value")
SOURCE = "src_table"
MASKED_PIPELINE = """\
oml_version: "0.1.0"
name: secret-mask
steps:
  - id: extract
    component: postgres.extractor
    mode: read
    config:
      connection: "@postgres.{alias}"
      query: SELECT id, label FROM {schema}.{source}
  - id: load
    component: postgres.writer
    mode: write
    needs: [extract]
    config:
      connection: "@postgres.w"
      schema: {schema}
      table: customer_sales
      write_mode: upsert
      primary_key: id
      create_if_missing: true
"""
MASKED_CONNECTIONS = """\
connections:
  postgres:
    w:
      host: 127.0.0.1
      port: 5432
      database: test
      user: postgres
      password: ${OSRT_PW}
    d:
      pg_dsn: ${OSRT_DSN}
"""


def hostile_secrets() -> st.SearchStrategy[str]:
    """Secrets a DSN must survive: raw ``@``, spaces, ``%ZZ``, ``/`` inside a generated secret."""
    return st.tuples(secret_values(), st.sampled_from(("@", " ", "%ZZ", "/", "@ %ZZ"))).map(
        lambda t: t[0][:6] + t[1] + t[0][6:]
    )


def _json_strings(data: object) -> list[str]:
    """Every string value, except a record's kind (``event``/``metric``: osirisc's own words, such as
    ``rows_out``, kept whatever the secret)."""
    if isinstance(data, dict):
        return [s for k, v in data.items() if k not in ("event", "metric") for s in _json_strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _json_strings(v)]
    return [data] if isinstance(data, str) else []


def _records(run_dir: Path) -> list[object]:
    """Every JSON document of a run directory (events and metrics line by line); each must parse."""
    docs: list[object] = []
    for path in sorted(run_dir.rglob("*.json*")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines() if path.suffix == ".jsonl" else [text]
        docs += [json.loads(line) for line in lines if line.strip()]
    return docs


def _create_source(schema: str) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", autocommit=True) as conn:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{schema}"."{SOURCE}" (id int primary key, label text)')
        conn.execute(f"INSERT INTO \"{schema}\".\"{SOURCE}\" VALUES (1, 'a'), (2, 'b') ON CONFLICT DO NOTHING")


@pytest.mark.slow
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    secret=st.one_of(st.sampled_from(EVENT_WORDS), secret_values(), hostile_secrets()),
    via_dsn=st.booleans(),
)
@example(secret="event", via_dsn=False)  # used to crash the run: KeyError 'event', exit 3
@example(secret="sEcR-se%ZZcr@t pw", via_dsn=True)  # libpq cannot parse it: used to leak through its error
@example(secret="sEcRp@ss/w0rd", via_dsn=True)  # libpq parses it, but splits the password elsewhere
def test_every_resolved_secret_is_masked(pg_schema: str, secret: str, via_dsn: bool) -> None:
    """A password (fields, or the raw password of a ``pg_dsn`` libpq may not parse) is masked in events, status,
    metrics, every run-directory file, stdout/stderr, and ``introspect`` / ``plan --against`` output; a secret
    equal to an event key or a common word breaks no record (keys are never masked); identifiers that do not
    contain the secret (step ids, table, components) are never masked."""
    _create_source(pg_schema)
    dsn = f"postgresql://postgres:{secret}@127.0.0.1:5432/test"
    env = {"OSRT_PW": secret, "OSRT_DSN": dsn}
    word = secret in EVENT_WORDS
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "osiris_connections.yaml").write_text(MASKED_CONNECTIONS, encoding="utf-8")
        pipeline = MASKED_PIPELINE.format(alias="d" if via_dsn else "w", schema=pg_schema, source=SOURCE)
        ran = _run(folder, pipeline, env)
        against = _run(folder, pipeline, env, "plan", "p.yaml", "--against", "--format", "json")
        introspected = _run(folder, pipeline, env, "introspect", "p.yaml")
        outputs = [ran, against, introspected]
        assert all("Traceback" not in p.stderr for p in outputs), [p.stderr for p in outputs]
        dsn_refused = via_dsn and ran.returncode == 2
        assert not dsn_refused or any(c in secret for c in "@/ ?#%"), ran.stderr  # only what libpq misreads
        if dsn_refused:  # libpq would read another password than written: refused before anything runs
            assert "OSR-E316" in ran.stderr and "pg_dsn" in ran.stderr, ran.stderr
            assert not (folder / "runs").exists()
        else:
            assert ran.returncode == 0, ran.stderr
        records = [doc for run_dir in (folder / "runs").glob("*/*") for doc in _records(run_dir)]
        assert all(secret not in s for s in (x for doc in records for x in _json_strings(doc)))
        if not word:  # a generated secret is found nowhere, in any byte osirisc wrote or printed
            scan = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "osiris_connections.yaml"]
            assert [p.name for p in scan if leaks(secret, p.read_bytes())] == []
            assert [i for i, p in enumerate(outputs) if leaks(secret, p.stdout + p.stderr)] == []
        if not dsn_refused:
            status = json.loads(next((folder / "runs").glob("*/*/status.json")).read_text(encoding="utf-8"))
            assert set(status["steps"]) == {"extract", "load"} and status["ok"] is True
            for identifier, text in (
                ("postgres.writer", status["steps"]["load"]["component"]),
                ("customer_sales", ran.stderr + json.dumps(records)),
                ("extract", ran.stderr),
            ):
                if secret not in identifier:
                    assert identifier in text, (identifier, text)
        assert against.returncode == 0, against.stderr  # the writer's connection: fields, always routable
        if "customer_sales" not in secret:
            assert "customer_sales" in against.stdout
        assert introspected.returncode == (2 if dsn_refused else 0), introspected.stderr
