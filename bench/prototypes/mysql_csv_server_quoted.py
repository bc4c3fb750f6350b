"""Prototype (issue #15, not product code): MySQL -> CSV with the server writing the CSV text.

One SELECT turns every row into one finished CSV line (``CONCAT_WS(',', ...)``: numbers as they are, DATETIME
formatted the way Arrow's CSV writer writes ``timestamp[us]``, text quoted with its quotes doubled, NULL as an
empty field); ``mariadb --batch --raw`` prints it unescaped, one line per row (a quoted value may hold newlines, as
in any CSV). Python writes the header and then either hands the client the file itself (``--mode direct``: no
byte passes through Python) or copies the client's pipe into the file (``--mode pipe``: what a product path that
compresses, transcodes or counts rows would do).

Usage: python -m bench.prototypes.mysql_csv_server_quoted TABLE OUT.csv [--mode direct|pipe]

Covers the column types of the bench tables (integers, DECIMAL, DATETIME, VARCHAR/TEXT); not covered: BINARY/BLOB
(hex), BIT, FLOAT/DOUBLE (the server's shortest round trip differs from Arrow's), zero dates (osirisc writes NULL),
DECIMAL with scale > 6 (osirisc quotes it), TIMESTAMP columns (session time zone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pymysql

TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
PLAIN = {"tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "year"}


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def column_expr(name: str, data_type: str, nullable: bool = True, fsp: int = 0) -> str:
    """The CSV field of one column as a SQL expression that is never NULL (``fsp``: DATETIME's fractional digits)."""
    col = _q(name)
    if data_type in TEXT:
        quoted = f"CONCAT('\"', REPLACE({col}, '\"', '\"\"'), '\"')"
        return f"IF({col} IS NULL, '', {quoted})" if nullable else quoted
    if data_type == "datetime":  # Arrow writes timestamp[us] with 6 digits; MariaDB prints fsp digits
        text = f"CONCAT({col}, '{'.' if fsp == 0 else ''}{'0' * (6 - fsp)}')"
    elif data_type == "date" or data_type in PLAIN:
        text = col
    else:
        raise SystemExit(f"prototype: column {name!r} of type {data_type} is not covered")
    return f"COALESCE({text}, '')" if nullable else text


def describe(host: str, port: int, user: str, db: str, table: str) -> list[tuple[str, str, bool, int]]:
    """(name, data type, nullable, datetime precision) of each column."""
    conn = pymysql.connect(host=host, port=port, user=user, password=os.environ.get("MYSQL_PWD", ""), database=db)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT column_name, data_type, is_nullable, datetime_precision FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (db, table),
            )
            return [(str(n), str(t).lower(), nl == "YES", int(p or 0)) for n, t, nl, p in cur.fetchall()]
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--mode", choices=("direct", "pipe"), default="direct")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3306)
    ap.add_argument("--user", default="root")
    ap.add_argument("--db", default="bench")
    a = ap.parse_args(argv)
    cols = describe(a.host, a.port, a.user, a.db, a.table)
    line = "CONCAT_WS(',', " + ", ".join(column_expr(*c) for c in cols) + ")"
    sql = f"SELECT {line} FROM {_q(a.table)}"
    client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
    args = [client, "--no-defaults", "--batch", "--raw", "--skip-column-names", "--quick", "--protocol=TCP",
            f"--host={a.host}", f"--port={a.port}", f"--user={a.user}", f"--database={a.db}",
            "--default-character-set=utf8mb4", "--max-allowed-packet=1G",
            "--init-command=SET time_zone = '+00:00'", "--execute", sql]  # fmt: skip
    header = ",".join('"' + n.replace('"', '""') + '"' for n, *_ in cols) + "\n"
    with Path(a.out).open("wb") as f:
        f.write(header.encode())
        f.flush()
        if a.mode == "direct":
            proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=f, check=False)
            return proc.returncode
        proc2 = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        assert proc2.stdout is not None
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        read = proc2.stdout.raw.readinto  # type: ignore[attr-defined]
        while n := read(view):
            f.write(view[:n])
        return proc2.wait()


if __name__ == "__main__":
    sys.exit(main())
