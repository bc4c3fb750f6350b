"""A MySQL source's schema is carried exactly: NOT NULL reaches the Arrow schema on every read path and the table a
writer creates from it, and `osirisc introspect` reads columns with SELECT alone (no temporary table)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pymysql
import pytest

from osiris import dialects
from osiris.cli import main
from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.dialects.lock import lock_path
from osiris.runtime.connectors import mysql, mysqlcli
from osiris.runtime.driver import StepContext

MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PATHS = [
    "pymysql",
    *(["mysqlclient"] if mysql.fast_path_available() else []),
    *(["cli"] if mysqlcli.client_binary() else []),
]
SOURCE = """CREATE TABLE src (
  a INT NOT NULL, b INT, s VARCHAR(10) NOT NULL, t TEXT, m DECIMAL(12,3) NOT NULL, d DATE NOT NULL,
  u BIGINT UNSIGNED NOT NULL, PRIMARY KEY (a))"""
# DATE keeps NULL: a zero date is read as NULL
NULLABLE = {"a": False, "b": True, "s": False, "t": True, "m": False, "d": True, "u": False}
pytestmark = pytest.mark.db


def _conn(db: str, **kw: Any) -> Any:
    return pymysql.connect(**{**MY, **kw}, database=db, autocommit=True, charset="utf8mb4")


@pytest.fixture
def src_db(mysql_db: str) -> str:
    with _conn(mysql_db) as conn, conn.cursor() as cur:
        cur.execute(SOURCE)
        cur.execute("INSERT INTO src VALUES (1, NULL, 'x', NULL, 1.5, '2024-01-02', 18446744073709551615)")
    return mysql_db


@pytest.mark.parametrize("path", PATHS)
def test_not_null_reaches_the_schema_and_the_created_table(src_db: str, tmp_path: Path, path: str) -> None:
    ctx = StepContext("s", {"table": "src"}, {**MY, "database": src_db}, tmp_path, tmp_path)
    extractor = MySQLExtractor({}, ctx)
    extractor.path = path
    table = extractor.run({}).read_all()  # read to the end: an open read would hold the table (and the teardown)
    assert {f.name: f.nullable for f in table.schema} == NULLABLE
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    plan = dialects.plan_write("mysql", {"schema": src_db, "table": f"copy_{path}"}, "append", None)  # schema unknown
    writer_ctx = StepContext("w", {}, {**MY, "database": src_db}, tmp_path, tmp_path)
    MySQLWriter({"write": plan}, writer_ctx).run({"in": reader})
    with _conn(src_db) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
            " AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (src_db, f"copy_{path}"),
        )
        assert {name: flag == "YES" for name, flag in cur.fetchall()} == NULLABLE
        cur.execute(f"SELECT * FROM `copy_{path}`")
        assert cur.fetchall() == ((1, None, "x", None, Decimal("1.500"), dt.date(2024, 1, 2), 18446744073709551615),)


@pytest.fixture
def select_only_user(src_db: str) -> Iterator[tuple[str, str]]:
    """A MariaDB user with SELECT on the test database and nothing else; dropped afterwards."""
    user, password = f"ro_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    with _conn(src_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT SELECT ON `{src_db}`.* TO %s@'%%'", (user,))
    try:
        yield user, password
    finally:
        with _conn(src_db) as conn, conn.cursor() as cur:
            cur.execute("DROP USER %s@'%%'", (user,))


def test_introspect_needs_only_select(
    src_db: str, select_only_user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = select_only_user
    with (
        _conn(src_db, user=user, password=password) as conn,
        conn.cursor() as cur,
        pytest.raises(pymysql.err.OperationalError, match="denied"),
    ):
        cur.execute("CREATE TEMPORARY TABLE probe (a INT)")  # the user really cannot
    monkeypatch.setenv("OSIRIS_TEST_RO_PASSWORD", password)
    (tmp_path / "osiris_connections.yaml").write_text(
        f"connections:\n  mysql:\n    ro:\n      host: 127.0.0.1\n      port: 3306\n      database: {src_db}\n"
        f"      user: {user}\n      password: ${{OSIRIS_TEST_RO_PASSWORD}}\n",
        encoding="utf-8",
    )
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        'oml_version: "0.1.0"\nname: p\nsteps:\n'
        '  - id: src\n    component: mysql.extractor\n    mode: read\n    config:\n      connection: "@mysql.ro"\n'
        "      query: SELECT a, b, s, t, m, d, u, a + 1 AS e FROM src\n"
        "  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    config:\n      path: out.csv\n",
        encoding="utf-8",
    )
    assert main(["introspect", str(pipeline)]) == 0
    columns = json.loads(lock_path(pipeline).read_text(encoding="utf-8"))["steps"]["src"]["columns"]
    assert columns == [
        {"name": "a", "type": "int32", "nullable": False},
        {"name": "b", "type": "int32", "nullable": True},
        {"name": "s", "type": "string", "nullable": False},
        {"name": "t", "type": "string", "nullable": True},
        {"name": "m", "type": "decimal(12,3)", "nullable": False},
        {"name": "d", "type": "date", "nullable": True},
        {"name": "u", "type": "uint64", "nullable": False},
        {"name": "e", "type": "int64", "nullable": False},
    ]
    ctx = StepContext("s", {"query": "SELECT a, b, s, t, m, d, u, a + 1 AS e FROM src"}, {**MY, "database": src_db},
                      tmp_path, tmp_path)  # fmt: skip
    schema = MySQLExtractor({}, ctx).run({}).read_all().schema  # the lock says exactly what the extractor reads
    assert [(c["name"], c["type"], c["nullable"]) for c in columns] == [
        (f.name, dialects.types.from_arrow(f.type), f.nullable) for f in schema
    ]
