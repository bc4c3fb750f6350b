"""The write paths chosen at run time (docs/ddl.md, "Load paths"), on PostgreSQL, MariaDB and DuckDB:

- a `replace` into a table the run creates or finds empty loads straight into it (no staging table);
- `replace_strategy: staging` replaces an existing table's rows through a staging table, `truncate` empties the
  table in the transaction (Postgres TRUNCATE, MariaDB/DuckDB DELETE) and loads straight into it;
- every path is atomic: a bad value in the last batch, or the server ending the writer's session mid-load
  (``pg_terminate_backend`` / ``KILL``), leaves the target exactly as it was (a table being created is not there).

Small inputs in many batches (1,000 rows each) keep this file fast.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pymysql
import pytest
from writer_data import SCHEMA, text

from osiris import dialects
from osiris.components.duckdb_writer.driver import Driver as DuckDBWriter
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.runtime.driver import StepContext, StepError

pytestmark = pytest.mark.db

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
PG_CONN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test", "password": ""}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
N, BATCH = 6_000, 1_000  # six batches
OLD = list(range(0, N, 2))  # the rows already there: even ids, v = 1


def rows_of(ids: list[int], v: int, suffix: str = "") -> list[tuple[Any, ...]]:
    return [(i, None if text(i) is None else f"{text(i)}{suffix}", v) for i in ids]


def reader_of(rows: list[tuple[Any, ...]], on_batch: Callable[[int], None] | None = None) -> pa.RecordBatchReader:
    """``rows`` in batches of BATCH; ``on_batch(n)`` runs before batch ``n`` is handed to the writer."""

    def batches() -> Iterator[pa.RecordBatch]:
        for n, start in enumerate(range(0, len(rows), BATCH)):
            if on_batch is not None:
                on_batch(n)
            cols = list(zip(*rows[start : start + BATCH], strict=True))
            yield pa.record_batch([pa.array(c, f.type) for c, f in zip(cols, SCHEMA, strict=True)], schema=SCHEMA)

    return pa.RecordBatchReader.from_batches(SCHEMA, batches())


class Target(abc.ABC):
    """One target table ``t``: create it, fill it, read it back, run a writer into it, kill its session."""

    name = ""
    ddl = ""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.events: list[tuple[str, Any]] = []

    @abc.abstractmethod
    def sql(self, sql: str) -> list[tuple[Any, ...]]: ...

    def create(self, fill: bool) -> None:
        self.sql(self.ddl)
        if fill:
            self.write("append", reader_of(rows_of(OLD, 1)))
            self.events.clear()

    def content(self) -> list[tuple[Any, ...]] | None:
        if not self.exists():
            return None
        return [tuple(r) for r in self.sql("SELECT id, s, v FROM t ORDER BY id")]

    @abc.abstractmethod
    def exists(self) -> bool: ...

    def plan(self, mode: str, strategy: str) -> dict[str, Any]:
        return dialects.plan_write(
            self.name, {"schema": self.schema, "table": "t"}, mode, dialects.columns_from_arrow(SCHEMA), "id",
            replace_strategy=strategy,
        )  # fmt: skip

    def statements(self) -> list[str]:
        return [s for kind, record in self.events if kind == "ddl" for s in record["statements"]]

    schema: str | None = None

    @abc.abstractmethod
    def write(self, mode: str, reader: pa.RecordBatchReader, strategy: str = "staging") -> None: ...

    def kill(self) -> None:
        """End the writer's server session from another connection (Postgres, MariaDB only: DuckDB runs in-process
        and has no session to end, so the session tests are not parametrised with it)."""
        raise TypeError(f"{self.name} has no server session to end")


class PostgresTarget(Target):
    name = "postgres"

    def __init__(self, schema: str, tmp: Path):
        super().__init__(tmp)
        self.schema = schema
        self.ddl = f'CREATE TABLE "{schema}".t (id BIGINT PRIMARY KEY, s TEXT, v BIGINT)'

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(**PG, autocommit=True, options=f"-c search_path={self.schema}") as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def exists(self) -> bool:
        return bool(self.sql(f"SELECT to_regclass('\"{self.schema}\".t') IS NOT NULL")[0][0])

    def write(self, mode: str, reader: pa.RecordBatchReader, strategy: str = "staging") -> None:
        ctx = StepContext("w", {}, PG_CONN, self.tmp, self.tmp, event=lambda k, d: self.events.append((k, d)))
        PGWriter({"id": "w", "write": self.plan(mode, strategy)}, ctx).run({"in": reader})

    def kill(self) -> None:
        """End the writer's backend (the one holding this target's advisory lock) and wait until it is gone."""
        got = self.sql(
            "SELECT pg_terminate_backend(l.pid, 10000) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
            f" AND l.pid <> pg_backend_pid() AND ((l.classid::bigint << 32) | l.objid::bigint)"
            f" = hashtextextended('osiris write {self.schema}.t', 0)"
        )
        assert got == [(True,)], got


class MySQLTarget(Target):
    name = "mysql"

    def __init__(self, db: str, tmp: Path):
        super().__init__(tmp)
        self.schema = db
        self.ddl = "CREATE TABLE t (id BIGINT PRIMARY KEY, s LONGTEXT, v BIGINT)"

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        conn = pymysql.connect(**MY, database=self.schema, autocommit=True, charset="utf8mb4")
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def exists(self) -> bool:
        return bool(
            self.sql(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{self.schema}'")[0][0]
        )

    def write(self, mode: str, reader: pa.RecordBatchReader, strategy: str = "staging") -> None:
        connection = {**MY, "database": self.schema}
        ctx = StepContext("w", {}, connection, self.tmp, self.tmp, event=lambda k, d: self.events.append((k, d)))
        MySQLWriter({"id": "w", "write": self.plan(mode, strategy)}, ctx).run({"in": reader})

    def kill(self) -> None:
        """KILL the writer's connection (the only other session using this test's database)."""
        ids = self.sql(
            f"SELECT id FROM information_schema.processlist WHERE db = '{self.schema}' AND id <> CONNECTION_ID()"
        )
        assert len(ids) == 1, ids
        self.sql(f"KILL CONNECTION {int(ids[0][0])}")


class DuckDBTarget(Target):
    name = "duckdb"
    ddl = "CREATE TABLE t (id BIGINT PRIMARY KEY, s VARCHAR, v BIGINT)"

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self.path = tmp / "target.duckdb"
        self.schema = "main"

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(sql).fetchall()

    def exists(self) -> bool:
        return bool(self.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'")[0][0])

    def write(self, mode: str, reader: pa.RecordBatchReader, strategy: str = "staging") -> None:
        config = {"path": str(self.path), "table": "t"}
        ctx = StepContext("w", config, None, self.tmp, self.tmp, event=lambda k, d: self.events.append((k, d)))
        DuckDBWriter({"id": "w", "write": self.plan(mode, strategy)}, ctx).run({"in": reader})


def make(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if kind == "postgres":
        return PostgresTarget(request.getfixturevalue("pg_schema"), tmp_path)
    if kind == "mysql":
        return MySQLTarget(request.getfixturevalue("mysql_db"), tmp_path)
    return DuckDBTarget(tmp_path)


@pytest.fixture(params=["postgres", "mysql", "duckdb"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return make(request.param, request, tmp_path)


@pytest.fixture(params=["postgres", "mysql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return make(request.param, request, tmp_path)


def arrange(target: Target, situation: str) -> None:
    if situation != "new":
        target.create(fill=situation == "full")


NEW_ROWS = rows_of(list(range(N)), 2, " new")  # every key, other text and v


@pytest.mark.parametrize("situation", ["new", "empty", "full"])
@pytest.mark.parametrize("strategy", ["staging", "truncate"])
def test_replace_strategy_statements_and_result(target: Target, strategy: str, situation: str) -> None:
    arrange(target, situation)
    target.write("replace", reader_of(NEW_ROWS), strategy)
    assert target.content() == NEW_ROWS
    ran = target.statements()
    staged = any("osiris_stg_t" in s for s in ran)
    emptied = [s for s in ran if s.startswith(("TRUNCATE", "DELETE"))]
    if situation == "full" and strategy == "staging":  # load the staging table, then DELETE + INSERT ... SELECT
        assert staged and [s.split()[0] for s in emptied] == ["DELETE"]
        assert any(s.startswith("INSERT INTO") and "osiris_stg_t" in s for s in ran)
    elif situation == "full":  # empty the table in the transaction, then load straight into it
        assert not staged
        assert [s.split()[0] for s in emptied] == (["TRUNCATE"] if target.name == "postgres" else ["DELETE"])
    else:  # a new or empty table: loaded directly, nothing to empty
        assert not staged and not emptied, ran
    assert ran[-1] == "COMMIT"


# (mode, replace_strategy, situation): every distinct load path (a new or empty table is loaded directly whatever
# the strategy, so `truncate` is shown on a full table only; append loads into the target in every situation)
PATHS = [
    ("replace", "staging", "new"),
    ("replace", "staging", "empty"),
    ("replace", "staging", "full"),
    ("replace", "truncate", "full"),
    ("upsert", "staging", "new"),
    ("upsert", "staging", "full"),
    ("append", "staging", "full"),
]


def expected_after(mode: str, situation: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    old = rows_of(OLD, 1) if situation == "full" else []
    if mode == "replace":
        return rows
    merged = {r[0]: r for r in old}
    merged.update({r[0]: r for r in rows})
    return sorted(merged.values())


@pytest.mark.parametrize(("mode", "strategy", "situation"), PATHS)
def test_bad_value_in_the_last_batch_leaves_the_target_as_it_was(
    target: Target, mode: str, strategy: str, situation: str
) -> None:
    arrange(target, situation)
    before = target.content()
    ids = list(range(N)) if mode != "append" else list(range(N, 2 * N))
    spoilt = [*rows_of(ids[:-1], 2, " new"), (None, "no key", 2)]  # NULL in the primary key, last batch
    with pytest.raises(StepError):
        target.write(mode, reader_of(spoilt), strategy)
    assert target.content() == before
    assert target.statements()[-1] == "ROLLBACK" or target.name == "mysql"  # MySQL: the undo of its DDL follows
    assert "ROLLBACK" in target.statements()
    target.events.clear()
    good = rows_of(ids, 2, " new")  # the same without the spoilt row goes through
    target.write(mode, reader_of(good), strategy)
    assert target.content() == expected_after(mode, situation, good)


@pytest.mark.parametrize(("mode", "strategy", "situation"), PATHS)
def test_session_ended_by_the_server_mid_load_leaves_the_target_as_it_was(
    server: Target, mode: str, strategy: str, situation: str
) -> None:
    arrange(server, situation)
    before = server.content()
    killed = threading.Event()

    def kill_before_batch_three(n: int) -> None:
        if n == 3:
            server.kill()
            killed.set()

    ids = list(range(N)) if mode != "append" else list(range(N, 2 * N))
    with pytest.raises(StepError) as failed:
        server.write(mode, reader_of(rows_of(ids, 2, " new"), kill_before_batch_three), strategy)
    assert killed.is_set()
    assert "load" in str(failed.value), failed.value
    assert server.content() == before
    # the writer can run again at once: nothing is left locked or half-made
    server.write(mode, reader_of(rows_of(ids, 3)), strategy)
    assert server.content() == expected_after(mode, situation, rows_of(ids, 3))
