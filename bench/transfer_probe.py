"""Throughput probe for the database drivers: rows/s of each mysql.extractor path (pymysql, mysqlclient, cli),
mysql.writer's two load paths, the binary COPY writer, the end-to-end MySQL -> Postgres transfer, and the shell
baseline ``mariadb --batch | psql \\copy``.

Run: ``.venv/bin/python bench/transfer_probe.py [ROWS]`` (default 1,000,000) against the local servers.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pymysql

from osiris import dialects
from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.runtime.connectors import mysql as mysql_conn
from osiris.runtime.connectors import mysqlcli
from osiris.runtime.driver import StepContext

MY: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PG: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}


def ctx(config: dict, connection: dict) -> StepContext:
    tmp = Path(tempfile.gettempdir())
    return StepContext("probe", config, connection, tmp, tmp)


def report(what: str, rows: int, seconds: float) -> None:
    print(f"{what:<44} {seconds:7.2f} s  {rows / seconds:12,.0f} rows/s")


def main(rows: int) -> None:
    db, schema = f"probe_{uuid.uuid4().hex[:8]}", f"probe_{uuid.uuid4().hex[:8]}"
    my = pymysql.connect(**MY, autocommit=True)
    pg = psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname="test", autocommit=True)
    with my.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
        cur.execute(f"USE {db}")
        cur.execute(
            f"CREATE TABLE {db}.src "
            "(id BIGINT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), ts DATETIME(6), n INT)"
        )
        cur.execute(
            f"INSERT INTO {db}.src SELECT seq, CONCAT('name-', seq), seq / 100,"
            " '2024-01-01' + INTERVAL seq SECOND, seq % 1000"
            f" FROM seq_1_to_{rows}"
        )
    pg.execute(f"CREATE SCHEMA {schema}")
    conn = {**MY, "database": db}
    try:
        table = None
        paths = ["pymysql", *(["mysqlclient"] if mysql_conn.fast_path_available() else [])]
        for path in [*paths, *(["cli"] if mysqlcli.client_binary() else [])]:
            d = MySQLExtractor({}, ctx({"table": "src", "batch_size": 100_000}, conn))
            d.path = path
            t0 = time.perf_counter()
            table = d.run({}).read_all()
            report(f"mysql.extractor ({path})", table.num_rows, time.perf_counter() - t0)
        assert table is not None
        part = table.slice(0, min(table.num_rows, 100_000))  # INSERTs are slow: time both paths on 100k rows
        for bulk in (False, True):
            my_plan = dialects.plan_write(
                "mysql", {"schema": db, "table": f"dst_{bulk}"}, "append", dialects.columns_from_arrow(part.schema)
            )
            writer = MySQLWriter({"write": my_plan}, ctx({}, conn))
            writer.bulk = bulk
            t0 = time.perf_counter()
            writer.run({"in": pa.RecordBatchReader.from_batches(part.schema, part.to_batches(max_chunksize=50_000))})
            report(f"mysql.writer ({'LOAD DATA' if bulk else 'INSERT'})", part.num_rows, time.perf_counter() - t0)
        plan = dialects.plan_write(
            "postgres", {"schema": schema, "table": "dst"}, "append", dialects.columns_from_arrow(table.schema)
        )
        pg_conn = {**PG, "password": ""}
        t0 = time.perf_counter()
        PGWriter({"write": plan}, ctx({}, pg_conn)).run(
            {"in": pa.RecordBatchReader.from_batches(table.schema, table.to_batches())}
        )
        report("postgres.writer (binary COPY, from memory)", table.num_rows, time.perf_counter() - t0)
        pg.execute(f"DROP TABLE {schema}.dst")  # fresh target (check_existing is not part of what is measured)
        t0 = time.perf_counter()
        reader = MySQLExtractor({}, ctx({"table": "src", "batch_size": 100_000}, conn)).run({})
        PGWriter({"write": plan}, ctx({}, pg_conn)).run({"in": reader})
        report("mysql -> postgres (drivers, streaming)", rows, time.perf_counter() - t0)
        pg.execute(f"TRUNCATE {schema}.dst")
        t0 = time.perf_counter()
        subprocess.run(
            f"mariadb -h127.0.0.1 -uroot --batch -N -e 'SELECT * FROM {db}.src' | "
            f"psql -q -h127.0.0.1 -Upostgres test -c '\\copy {schema}.dst FROM STDIN'",
            shell=True, check=True,
        )  # fmt: skip
        report("baseline: mariadb --batch | psql \\copy", rows, time.perf_counter() - t0)
    finally:
        with my.cursor() as cur:
            cur.execute(f"DROP DATABASE {db}")
        pg.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
