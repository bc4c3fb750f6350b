"""Deterministic (seeded, pure integer arithmetic) test data: a TSV loaded into MariaDB with LOAD DATA, and CSV
files for the DuckDB benchmark. Tables are reused when their comment says they hold the same generation."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.settings import Settings

GENERATOR = "bench-gen-v1"  # the plain tables' rows are unchanged by the awkward variant
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


def _note(awkward: bool) -> str:
    """The ``note`` column: plain, or with the awkward text real tables have (``awkward``): tabs, newlines, carriage
    returns (also alone), backslashes, quotes, the texts ``NULL`` and ``\\N``, emoji, ~10% NULL, ~0.2% ''."""
    if not awkward:
        return """CASE WHEN (k * 2246822519) % 100 < 10 THEN NULL
           WHEN k % 97 = 0 THEN 'Grüße aus Köln #' || id
           ELSE 'note ' || id || ' ' || repeat('x', CAST((k * 13) % 40 AS INTEGER)) END"""
    return """CASE WHEN (k * 2246822519) % 100 < 10 THEN NULL
           WHEN (k * 40503) % 500 = 7 THEN ''
           ELSE CASE CAST((k * 1103515245 + 12345) // 65536 % 12 AS INTEGER)
             WHEN 0 THEN 'NULL'
             WHEN 1 THEN '\\N'
             WHEN 2 THEN 'tab' || chr(9) || 'separated ' || id
             WHEN 3 THEN 'line' || chr(10) || 'break ' || id
             WHEN 4 THEN 'crlf' || chr(13) || chr(10) || 'end ' || id
             WHEN 5 THEN 'lone cr' || chr(13) || id
             WHEN 6 THEN 'back\\slash\\\\ ' || id || '\\'
             WHEN 7 THEN 'say "hi", it''s ' || id
             WHEN 8 THEN '😀 emoji 🚀 ' || id
             WHEN 9 THEN 'Grüße aus Köln #' || id
             ELSE 'note ' || id || ' ' || repeat('x', CAST((k * 13) % 40 AS INTEGER)) END END"""


def select_sql(rows: int, seed: int = SEED, *, awkward: bool = False, first_id: int = 1, changed_upto: int = 0) -> str:
    """DuckDB SELECT producing the table; every value is a function of (id, seed), so any machine gets the same rows.
    About 10% of notes are NULL; lengths vary from 12 to ~60 characters; ``awkward`` notes hold the text that breaks
    naive exports (``_note``). Ids run from ``first_id`` for ``rows`` rows; ids up to ``changed_upto`` that are a
    multiple of 9 get other values (the seed + 1): the input of the upsert benchmark."""
    last = first_id + rows - 1
    return f"""
    WITH g AS (SELECT i AS id,
                      (CAST(i AS BIGINT) + {seed} + CASE WHEN i <= {changed_upto} AND i % 9 = 0 THEN 1 ELSE 0 END)
                      % 1000000007 AS k
               FROM range({first_id}, {last} + 1) t(i))
    SELECT
      id,
      CAST((k * 2654435761) % 4294967291 % 50000 + 1 AS INTEGER) AS customer_id,
      CAST(((k * 48271) % 2147483647 % 10000000 - 100000) / 100.0 AS DECIMAL(12,2)) AS amount,
      ['new', 'paid', 'shipped', 'cancelled', 'refunded'][CAST((k * 31 + k // 7) % 5 AS INTEGER) + 1] AS status,
      TIMESTAMP '2020-01-01 00:00:00' + to_seconds(CAST((k * 104729) % 157680000 AS BIGINT)) AS created_at,
      {_note(awkward)} AS note
    FROM g ORDER BY id"""


def write_tsv(path: Path, rows: int, select: str | None = None) -> None:
    """MySQL LOAD DATA format: tab separated, \\N for NULL, no header; backslash, tab, newline and carriage return
    in the text are escaped with a backslash (LOAD DATA's default ESCAPED BY)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    note = "replace(replace(replace(replace(note, '\\', '\\\\'), chr(9), '\\t'), chr(10), '\\n'), chr(13), '\\r')"
    escaped = f"SELECT id, customer_id, amount, status, created_at, {note} AS note FROM ({select or select_sql(rows)})"
    con.execute(
        f"COPY ({escaped}) TO '{path}' (FORMAT csv, DELIMITER '\t', HEADER false, NULLSTR '\\N', QUOTE '',"
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
    return ensure_mysql_table(settings, source_table(rows), rows, select_sql(rows), f"seed={SEED} rows={rows}")


def ensure_mysql_awkward(settings: Settings, rows: int) -> str:
    """``<mysql_db>.awk_<rows>``: the table with awkward notes (the write-modes benchmark's source)."""
    select = select_sql(rows, awkward=True)
    return ensure_mysql_table(settings, f"awk_{rows}", rows, select, f"awkward seed={SEED} rows={rows}")


def upsert_ids(rows: int) -> tuple[int, int]:
    """(first id, changed up to) of the upsert input for a ``rows``-row table: ``rows`` ids, 10% of them past the
    table's last id (new), and every 9th of the ids already there changed (10% of the input)."""
    return rows // 10 + 1, rows


def ensure_mysql_upsert_input(settings: Settings, rows: int) -> str:
    """``<mysql_db>.upd_<rows>``: the upsert input for ``awk_<rows>`` (``upsert_ids``)."""
    first, changed = upsert_ids(rows)
    select = select_sql(rows, awkward=True, first_id=first, changed_upto=changed)
    return ensure_mysql_table(settings, f"upd_{rows}", rows, select, f"upsert seed={SEED} rows={rows}")


def ensure_mysql_table(settings: Settings, table: str, rows: int, select: str, what: str) -> str:
    """Create and fill ``<mysql_db>.<table>`` from the DuckDB ``select`` unless its comment says it holds this
    generation (``what``); returns the table name."""
    comment = f"{GENERATOR} {what}"
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
            write_tsv(tsv, rows, select)
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
