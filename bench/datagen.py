"""Deterministic (seeded, pure integer arithmetic) test data: a TSV loaded into MariaDB with LOAD DATA, and CSV
files for the DuckDB benchmark. Tables are reused when their comment says they hold the same generation."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.settings import Settings

GENERATOR = "bench-gen-v1"
SEED = 20240601
COLUMNS = ("id", "customer_id", "amount", "status", "created_at", "note")

MYSQL_DDL = """CREATE TABLE `{table}` (
  id BIGINT NOT NULL PRIMARY KEY,
  customer_id INT NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at DATETIME NOT NULL,
  note VARCHAR(200) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='{comment}'"""

PG_DDL = """CREATE TABLE {table} (
  id BIGINT NOT NULL PRIMARY KEY,
  customer_id INTEGER NOT NULL,
  amount NUMERIC(12,2) NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at TIMESTAMP NOT NULL,
  note VARCHAR(200) NULL
)"""


def select_sql(rows: int, seed: int = SEED) -> str:
    """DuckDB SELECT producing the table; every value is a function of (id, seed), so any machine gets the same rows.
    About 10% of notes are NULL; some notes are non-ASCII; lengths vary from 12 to ~60 characters."""
    return f"""
    WITH g AS (SELECT i AS id, (CAST(i AS BIGINT) + {seed}) % 1000000007 AS k FROM range(1, {rows} + 1) t(i))
    SELECT
      id,
      CAST((k * 2654435761) % 4294967291 % 50000 + 1 AS INTEGER) AS customer_id,
      CAST(((k * 48271) % 2147483647 % 10000000 - 100000) / 100.0 AS DECIMAL(12,2)) AS amount,
      ['new', 'paid', 'shipped', 'cancelled', 'refunded'][CAST((k * 31 + k // 7) % 5 AS INTEGER) + 1] AS status,
      TIMESTAMP '2020-01-01 00:00:00' + to_seconds(CAST((k * 104729) % 157680000 AS BIGINT)) AS created_at,
      CASE WHEN (k * 2246822519) % 100 < 10 THEN NULL
           WHEN k % 97 = 0 THEN 'Grüße aus Köln #' || id
           ELSE 'note ' || id || ' ' || repeat('x', CAST((k * 13) % 40 AS INTEGER)) END AS note
    FROM g ORDER BY id"""


def write_tsv(path: Path, rows: int) -> None:
    """MySQL LOAD DATA format: tab separated, \\N for NULL, no header (the data holds no tab, newline or quote)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(
        f"COPY ({select_sql(rows)}) TO '{path}' (FORMAT csv, DELIMITER '\t', HEADER false, NULLSTR '\\N', QUOTE '',"
        " TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')"
    )
    con.close()


def write_csv(path: Path, rows: int) -> None:
    """A plain CSV with a header (input of the CSV -> DuckDB -> CSV benchmark)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = path.with_suffix(".ok")
    if path.exists() and stamp.exists() and stamp.read_text() == f"{GENERATOR} {SEED} {rows}":
        return
    con = duckdb.connect()
    con.execute(f"COPY ({select_sql(rows)}) TO '{path}' (FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')")
    con.close()
    stamp.write_text(f"{GENERATOR} {SEED} {rows}")


def source_table(rows: int) -> str:
    return f"src_{rows}"


def ensure_mysql_source(settings: Settings, rows: int) -> str:
    """Create and fill ``<mysql_db>.src_<rows>`` unless it already holds this generation; returns the table name."""
    table = source_table(rows)
    comment = f"{GENERATOR} seed={SEED} rows={rows}"
    conn = settings.mysql_connect(local_infile=True)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{settings.mysql_db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
            cur.execute(f"USE `{settings.mysql_db}`")
            cur.execute(
                "SELECT table_comment FROM information_schema.tables WHERE table_schema=%s AND table_name=%s",
                (settings.mysql_db, table),
            )
            found = cur.fetchone()
            if found and found[0] == comment:
                return table
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            cur.execute(MYSQL_DDL.format(table=table, comment="loading"))
            tsv = settings.data_dir / f"{table}.tsv"
            write_tsv(tsv, rows)
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' "
                "ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
                (str(tsv),),
            )
            cur.execute("SELECT COUNT(*) FROM `" + table + "`")
            count = cur.fetchone()[0]
            if count != rows:
                raise RuntimeError(f"loaded {count} rows into {table}, expected {rows}")
            cur.execute(f"ALTER TABLE `{table}` COMMENT=%s", (comment,))
            tsv.unlink()
    finally:
        conn.close()
    return table


def ensure_pg_schema(settings: Settings) -> None:
    conn = settings.pg_connect()
    try:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.pg_schema}"')
    finally:
        conn.close()


def pg_drop(settings: Settings, table: str) -> None:
    conn = settings.pg_connect()
    try:
        conn.execute(f'DROP TABLE IF EXISTS "{settings.pg_schema}"."{table}"')
    finally:
        conn.close()


def pg_create_target(settings: Settings, table: str) -> None:
    conn = settings.pg_connect()
    try:
        conn.execute(f'DROP TABLE IF EXISTS "{settings.pg_schema}"."{table}"')
        conn.execute(PG_DDL.format(table=f'"{settings.pg_schema}"."{table}"'))
    finally:
        conn.close()
