"""Helpers for tests that start a real ``osirisc run`` process and watch it through its run record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pymysql
import pytest
from conftest import MY, PG, _unavailable

ROWS = 400_000  # about 20 MB of text: many CSV blocks / batches, so a signal lands mid-load
AWKWARD = "CONCAT('row ', i, ' tab\\there CR\\rLF\\nback\\\\slash \"quote\" ''NULL'' \\\\N \U0001f389')"

CONNECTIONS = f"""\
connections:
  mysql:
    main:
      default: true
      host: {MY["host"]}
      port: {MY["port"]}
      database: test
      user: {MY["user"]}
      password: ""
  postgres:
    main:
      default: true
      host: {PG["host"]}
      port: {PG["port"]}
      database: {PG["dbname"]}
      user: {PG["user"]}
      password: PG_PASSWORD
"""


@contextmanager
def mysql_source(rows: int = ROWS) -> Iterator[str]:
    """A fresh MariaDB database with table ``src`` (id, text with CR/LF/tab/backslash/quotes/'NULL'/emoji, NULLs)."""
    try:
        conn = pymysql.connect(**MY, autocommit=True, connect_timeout=5)
    except Exception as exc:  # pragma: no cover - the machine's server is down
        _unavailable("MariaDB", exc)  # CI (OSIRIS_REQUIRE_DB): a failure, not a skip
        raise
    name = f"t_{os.urandom(6).hex()}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cur.execute(f"CREATE TABLE `{name}`.src (id INT PRIMARY KEY, label VARCHAR(120), maybe INT)")
        cur.execute(f"SET SESSION max_recursive_iterations = {rows + 10}")
        cur.execute(
            f"INSERT INTO `{name}`.src WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
            f" SELECT i, {AWKWARD}, IF(i % 7 = 0, NULL, i) FROM n"
        )
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        conn.close()


def write_pipeline(folder: Path, name: str, source_db: str, writer: Mapping[str, Any], pg_password: str = '""') -> Path:
    """A two-step pipeline: the MariaDB table ``src`` of ``source_db`` -> ``writer`` (component + config);
    ``pg_password`` is the Postgres connection's password field (the server trusts local users: any works)."""
    folder.mkdir(parents=True, exist_ok=True)
    connections = CONNECTIONS.replace("PG_PASSWORD", pg_password)
    (folder / "osiris_connections.yaml").write_text(connections, encoding="utf-8")
    steps = [
        {
            "id": "extract",
            "component": "mysql.extractor",
            "mode": "read",
            "config": {"connection": "@mysql.main", "query": f"SELECT id, label, maybe FROM `{source_db}`.src"},
        },
        {"id": "load", "mode": "write", "needs": ["extract"], **writer},
    ]
    doc = {"oml_version": "0.1.0", "name": name, "steps": steps}
    path = folder / "pipeline.yaml"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def osirisc(*args: str) -> list[str]:
    return [sys.executable, "-m", "osiris.cli", *args]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.glob("*/*") if p.is_dir())


def events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]  # the last line may be half written


def wait_for(
    what: str, check: Callable[[], Any], proc: subprocess.Popen[Any] | None = None, timeout: float = 120
) -> Any:
    """Poll ``check`` until it returns something truthy; fails when ``proc`` ends first or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}")
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def find_event(runs: Path, kind: str, step: str | None = None) -> dict[str, Any] | None:
    for run_dir in run_dirs(runs):
        for e in events(run_dir):
            if e["event"] == kind and (step is None or e.get("step") == step):
                return e
    return None


def wait_event(runs: Path, proc: subprocess.Popen[Any], kind: str, step: str | None = None) -> dict[str, Any]:
    what = f"a {kind} event" + (f" of step {step}" if step else "")
    return wait_for(what, lambda: find_event(runs, kind, step), proc)  # type: ignore[no-any-return]


def children(pid: int) -> list[int]:
    out: list[int] = []
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        with suppress(OSError):
            out += [int(x) for x in f.read_text().split()]
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
