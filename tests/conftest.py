"""Shared fixtures. Database fixtures use the real servers on this machine; with OSIRIS_REQUIRE_DB=1 (CI) a
missing server fails the test instead of skipping it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Hermetic tests: no DuckDB answers (describes, CSV read plans) kept from earlier runs - every test, and every osirisc
# it starts, computes them; tests of that cache (passes/duck_cache.py) point OSIRIS_CACHE_DIR at a temp folder.
os.environ["OSIRIS_CACHE_DIR"] = ""
# The runtime tests' hand-written drivers (tests/runtime/rt_drivers.py, test_cancel.py, test_child_reaping.py): a
# plan's driver must come from a component package (runtime/scheduler.py load_driver), these are trusted the
# documented way.
os.environ["OSIRIS_DRIVER_MODULES"] = "rt_drivers,test_cancel,test_child_reaping"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("OSIRIS_REQUIRE_DB") or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema in database `test`, dropped afterwards."""
    import psycopg

    try:
        conn = psycopg.connect(**PG, autocommit=True, connect_timeout=5)
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
        raise
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        conn.close()


@pytest.fixture
def mysql_db() -> Iterator[str]:
    """A fresh MariaDB database, dropped afterwards."""
    import pymysql

    try:
        conn = pymysql.connect(**MY, autocommit=True, connect_timeout=5)
    except Exception as exc:
        _unavailable("MariaDB", exc)
        raise
    name = f"t_{uuid.uuid4().hex[:12]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        conn.close()


@pytest.fixture(scope="session")
def sandbox_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``venv_for(requirements_txt)``: a venv with exactly those pinned requirements, or one already built with a
    superset of them (the API extractors' sandbox tests: graphql's pins include posthog's, so one venv serves
    both when they run together; alone, each gets its own exact set)."""
    from osiris.backends.e2b.sandbox import create_venv

    built: list[tuple[frozenset[str], Path]] = []

    def venv_for(requirements: str) -> Path:
        wanted = frozenset(line.strip() for line in requirements.splitlines() if line.strip())
        for have, path in built:
            if wanted <= have:
                return path
        work = tmp_path_factory.mktemp("venv")
        (work / "requirements.txt").write_text(requirements, encoding="utf-8")
        create_venv(work / "venv", work / "requirements.txt", work / "install.log")
        built.append((wanted, work / "venv"))
        return work / "venv"

    # not removed at the end: deleting a few hundred MB of venvs took 20-35 s of the suite; pytest's base temp
    # retention (the last 3 runs) removes them
    return venv_for
