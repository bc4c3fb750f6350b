"""Prototype (issue #15, not product code): the current text round trip without the pipeline around it.

``mariadb --batch`` output parsed by pyarrow's C++ CSV reader (tab delimiter, no quoting) with the column types
given to the reader itself (no casts afterwards), the unescape and NULL/'NULL' fix-up of osirisc's extractor only
on text columns (``mysqlcli.text_column``: numpy, only where a block holds a backslash), and ``pyarrow.csv``'s
writer with osirisc's options. No compile, no run record, no pipeline threads: what is left is the floor of the
Arrow design in one process.

Usage: python -m bench.prototypes.mysql_csv_arrow_lean TABLE OUT.csv

Covers the bench tables' column types only (integers, DECIMAL, DATETIME, VARCHAR/TEXT).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bench.prototypes.mysql_csv_server_quoted import TEXT, _q, describe
from osiris.runtime.connectors.mysqlcli import CrEscaper, command, text_column

INTS = {"tinyint": pa.int8(), "smallint": pa.int16(), "mediumint": pa.int32(), "int": pa.int32(),
        "bigint": pa.int64()}  # fmt: skip


def arrow_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    if data_type in TEXT:
        return pa.string()
    if data_type in INTS:
        return INTS[data_type]
    if data_type == "decimal":
        return pa.decimal128(precision or 10, scale or 0)
    if data_type == "datetime":
        return pa.timestamp("us")
    raise SystemExit(f"prototype: type {data_type} is not covered")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--db", default="bench")
    a = ap.parse_args(argv)
    cols = describe("127.0.0.1", 3306, "root", a.db, a.table)
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=a.db)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (a.db, a.table),
        )
        ps = cur.fetchall()
    conn.close()
    schema = pa.schema([(n, arrow_type(t, p, sc)) for (n, t, *_), (p, sc) in zip(cols, ps, strict=True)])
    exprs: list[str] = []
    names: list[str] = []
    types: dict[str, pa.DataType] = {}
    for f in schema:
        exprs.append(_q(f.name))
        names.append(f"c{len(names)}")
        types[names[-1]] = f.type
        if pa.types.is_string(f.type):
            exprs.append(f"{_q(f.name)} IS NULL")
            names.append(f"c{len(names)}")
            types[names[-1]] = pa.string()
    sql = f"SELECT {', '.join(exprs)} FROM {_q(a.table)}"
    p = {"host": "127.0.0.1", "port": 3306, "user": "root", "database": a.db}
    proc = subprocess.Popen(command("mariadb", p, sql), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    reader = pacsv.open_csv(
        CrEscaper(proc.stdout),
        read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
        convert_options=pacsv.ConvertOptions(column_types=types, null_values=["NULL"], strings_can_be_null=True),
    )
    options = pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed", eol="\n")
    with pa.OSFile(a.out, "wb") as sink, pacsv.CSVWriter(sink, schema, write_options=options) as writer:
        for raw in reader:
            arrays: list[pa.Array] = []
            i = 0
            for f in schema:
                col = raw.column(i)
                i += 1
                if pa.types.is_string(f.type):
                    col = text_column(col, pc.equal(raw.column(i), "1"))
                    i += 1
                arrays.append(col)
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
