"""graphql.extractor end to end: a real GraphQL server -> duckdb.processor -> postgres.writer on the real
PostgreSQL, locally and through `--target sandbox` (a fresh venv from the bundle's pinned requirements). The
bearer token and a secret header reach the server, and neither appears in any record of the run (events, status,
run directory, stdout/stderr), also when the run fails on a bad token."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from graphql_server import GraphQLServer, Knobs, item

from osiris.backends.e2b.bundle import build_bundle
from osiris.backends.e2b.host import sandbox_connections
from osiris.backends.e2b.launch import LaunchOptions, launch
from osiris.backends.e2b.tarball import read_tar_gz
from osiris.backends.e2b.trust import fingerprint
from osiris.cli import main
from osiris.compile import compile_file
from osiris.runtime.connections import Connections
from osiris.runtime.redact import Redactor

pytestmark = pytest.mark.db

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
TOKEN = "gql-pipeline-Tok3n-5e6f7a8b9c"
TRACE = "trace-Secr3t-header-0a1b2c3d"
TOTAL = 5_000  # 10 pages of 500

PIPELINE = """\
oml_version: "0.1.0"
name: gql-items
steps:
  - id: items
    component: graphql.extractor
    mode: read
    config:
      connection: "@graphql.api"
      query: |
        query Items($first: Int!, $after: String) {
          items(first: $first, after: $after) {
            edges { node { id name score active owner { login since } } }
            pageInfo { hasNextPage endCursor }
          }
        }
      variables: {first: 500}
      pagination_enabled: true
      pagination_path: data.items.pageInfo
      data_path: "data.items.edges[*].node"
      retry_delay: 0.1
      batch_size: 1200
      columns:
        - {name: id, type: int64, nullable: false}
        - {name: name, type: string}
        - {name: score, type: float64}
        - {name: active, type: bool}
        - {name: owner.login, type: string}
        - {name: owner.since, type: "timestamp[tz]"}
  - id: by-owner
    component: duckdb.processor
    mode: transform
    needs: [items]
    config:
      query: |
        SELECT COALESCE("owner.login", '(none)') AS login, COUNT(*) AS n, SUM(score) AS score,
               MAX(name) AS last_name, MAX("owner.since") AS since
        FROM df_items GROUP BY 1
  - id: write
    component: postgres.writer
    mode: write
    needs: [by-owner]
    config:
      connection: "@postgres.warehouse"
      schema: {schema}
      table: by_owner
      write_mode: replace
      primary_key: [login]
      create_if_missing: true
"""

CONNECTIONS = """\
connections:
  graphql:
    api:
      endpoint: {url}
      auth_type: bearer
      auth_token: ${{GQL_TOKEN}}
      headers:
        X-Trace: ${{GQL_TRACE}}
  postgres:
    warehouse:
      host: 127.0.0.1
      port: 5432
      database: test
      user: postgres
      password: ""
"""


def expected() -> list[tuple[Any, ...]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in range(TOTAL):
        row = item(i)
        groups[row["owner"]["login"] if row["owner"] else "(none)"].append(row)
    out = []
    for login, rows in sorted(groups.items()):
        scores = [r["score"] for r in rows if r["score"] is not None]
        since = "2024-01-02 03:04:05+00" if login != "(none)" else None
        out.append((login, len(rows), sum(scores), max(r["name"] for r in rows), since))
    return out


@pytest.fixture
def server() -> Iterator[GraphQLServer]:
    srv = GraphQLServer(Knobs(total=TOTAL, token=TOKEN))
    yield srv
    srv.close()


def project(tmp_path: Path, url: str, schema: str) -> Path:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(PIPELINE.replace("{schema}", schema), encoding="utf-8")
    (folder / "osiris_connections.yaml").write_text(CONNECTIONS.format(url=url), encoding="utf-8")
    return folder / "pipeline.yaml"


def table(schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(**PG) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        rows = conn.execute(
            f'SELECT login, n, score, last_name, since::text FROM "{schema}".by_owner ORDER BY login'
        ).fetchall()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def leaks(root: Path, *texts: str) -> list[str]:
    """Files under ``root`` (and texts) that contain the token or the secret header value."""
    found = [
        str(p) for p in root.rglob("*") if p.is_file() and any(s.encode() in p.read_bytes() for s in (TOKEN, TRACE))
    ]
    return found + [t[:80] for t in texts if TOKEN in t or TRACE in t]


def test_local_run_loads_postgres_and_keeps_secrets_out(
    tmp_path: Path,
    server: GraphQLServer,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GQL_TOKEN", TOKEN)
    monkeypatch.setenv("GQL_TRACE", TRACE)
    pipeline = project(tmp_path, server.url, pg_schema)
    runs = tmp_path / "runs"
    assert main(["run", str(pipeline), "--runs-dir", str(runs)]) == 0
    assert table(pg_schema) == expected()
    assert server.knobs.requests == 10
    assert {h["x-trace"] for h in server.knobs.headers} == {TRACE}
    assert {h["authorization"] for h in server.knobs.headers} == {f"Bearer {TOKEN}"}
    out = capsys.readouterr()
    assert leaks(runs, out.out, out.err) == [] and leaks(pipeline.parent / "build") == []

    # a bad token: the step fails naming the cause, the table keeps the first run's rows, no token anywhere
    monkeypatch.setenv("GQL_TOKEN", TOKEN[::-1])
    assert main(["run", str(pipeline), "--runs-dir", str(runs)]) != 0
    out = capsys.readouterr()
    events = "".join(p.read_text(encoding="utf-8") for p in runs.rglob("events.jsonl"))
    assert "authentication failed (HTTP 401: Bad credentials)" in events
    assert table(pg_schema) == expected()
    assert leaks(runs, out.out, out.err) == [] and TOKEN[::-1] not in events + out.out + out.err


def test_check_refuses_inline_credentials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = project(tmp_path, "http://127.0.0.1:9/graphql", "public")
    text = pipeline.read_text(encoding="utf-8")
    credentials = f"      auth_type: bearer\n      auth_token: {TOKEN}\n      headers: {{X-Trace: {TRACE}}}\n"
    endpoint = "      endpoint: http://127.0.0.1:9/graphql\n"
    inline = text.replace('      connection: "@graphql.api"\n', endpoint + credentials, 1)
    pipeline.write_text(inline, encoding="utf-8")
    assert main(["check", str(pipeline)]) == 2
    out = capsys.readouterr()
    assert "inline secret in 'auth_token'" in out.err + out.out and "inline secret in 'headers'" in out.err + out.out
    assert TOKEN not in out.err + out.out and TRACE not in out.err + out.out
    pipeline.write_text(
        text.replace('      connection: "@graphql.api"\n', "      auth_type: bearer\n", 1), encoding="utf-8"
    )
    assert main(["check", str(pipeline)]) == 2
    out = capsys.readouterr()
    assert "give the `endpoint`" in out.err + out.out and "need `auth_token`" in out.err + out.out


@pytest.mark.slow
def test_sandbox_run_matches_local_with_pinned_requirements(
    tmp_path: Path,
    server: GraphQLServer,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox_venv: Callable[[str], Path],
) -> None:
    monkeypatch.setenv("GQL_TOKEN", TOKEN)
    monkeypatch.setenv("GQL_TRACE", TRACE)
    pipeline = project(tmp_path, server.url, pg_schema)
    compiled = compile_file(str(pipeline))
    assert not compiled.failed, [d.message for d in compiled.diagnostics]
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(build_bundle(compiled))
    requirements = read_tar_gz(bundle.read_bytes())["requirements.txt"].decode()
    assert {"httpx==0.28.1", "jsonpath-ng==1.16.0", "httpcore==1.0.9"} <= set(requirements.split())
    venv = sandbox_venv(requirements)
    runs = tmp_path / "runs"
    options = LaunchOptions(
        target="sandbox", expect=fingerprint(bundle.read_bytes()), base_dir=pipeline.parent, runs_dir=runs,
        venv=venv,
    )  # fmt: skip
    assert launch(bundle, options)[0] == 0
    assert table(pg_schema) == expected()
    assert {h["x-trace"] for h in server.knobs.headers} == {TRACE}
    out = capsys.readouterr()
    assert leaks(runs, out.out, out.err) == []


def test_header_values_of_a_connection_are_secrets(tmp_path: Path) -> None:
    """The sandbox gets a connections file: each header value goes there as ${VAR} (its value only in the run's
    environment), and the run's redactor masks header values like passwords."""
    pipeline = project(tmp_path, "http://127.0.0.1:9/graphql", "public")
    redactor = Redactor()
    env = {"GQL_TOKEN": TOKEN, "GQL_TRACE": TRACE}
    conns = Connections.load(pipeline.parent / "osiris_connections.yaml", env, redactor)
    text, secret_env = sandbox_connections(conns, {("graphql", "api"): {"auth_token", "auth_username", "headers"}})
    assert TOKEN not in text and TRACE not in text
    assert sorted(secret_env.values()) == sorted([TOKEN, TRACE])
    assert redactor.text(f"saw {TRACE} and {TOKEN}") == "saw *** and ***"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("      pagination_enabled: true\n", "", "pagination_path"),  # pagination fields without pagination
        ("      retry_delay: 0.1\n", "      retry_delay: 0.1\n      auth_type: bearer\n      auth_header_name: X-K\n",
         "auth_header_name"),
        ("      retry_delay: 0.1\n", "      retry_delay: 0.1\n      auth_type: api_key\n"
         "      auth_username: '@graphql.api'\n", "auth_username"),
    ],
)  # fmt: skip
def test_check_refuses_fields_that_would_be_ignored(
    tmp_path: Path, old: str, new: str, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = project(tmp_path, "http://127.0.0.1:9/graphql", "public")
    text = pipeline.read_text(encoding="utf-8")
    assert main(["check", str(pipeline)]) == 0
    pipeline.write_text(text.replace(old, new, 1), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", str(pipeline)]) == 2
    out = capsys.readouterr()
    assert f"should not be valid under {{'required': ['{field}']}}" in out.err or f"['{field}']" in out.err
