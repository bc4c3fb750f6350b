"""Measure the MySQL -> CSV prototypes (issue #15) in one interleaved run with `mariadb --batch > file` and
`osirisc run` (bench/pipelines/mysql_csv.yaml), and check every prototype's file against osirisc's, value by value.

Usage: python -m bench.prototypes.run_mysql_csv [--rows 1000000] [--repeats 3] [--tables src,awk]

``src`` is the table of ``python -m bench --only mysql-csv``; ``awk`` is the same rows with the awkward notes (tabs,
newlines, CRs, backslashes, quotes, the texts NULL and \\N, emoji, NULL, ''). Wall and peak RSS come from
bench/measure.py (GNU time); medians of the good runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from bench import checksums, datagen, transfer
from bench.measure import Case, interleave, ratio
from bench.settings import BENCH_DIR, Settings

PROTO = ("bench.prototypes.mysql_csv_server_quoted", "bench.prototypes.mysql_csv_arrow_lean")


def values(path: Path) -> pa.Table:
    """Every field as text; an unquoted empty field is NULL, a quoted one is '' (what osirisc's writer means)."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=16 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in datagen.COLUMNS},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def compare(ref: Path, out: Path) -> str | None:
    """None when ``out`` holds the same values as ``ref`` (and says whether the bytes are equal too)."""
    a, b = values(ref), values(out)
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return f"shape differs: {a.num_rows} vs {b.num_rows} rows, {a.schema.names} vs {b.schema.names}"
    for name in a.schema.names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if not x.equals(y):
            for i in range(len(x)):
                if x[i] != y[i] or x[i].is_valid != y[i].is_valid:
                    return f"column {name} row {i}: {x[i]!r} vs {y[i]!r}"
    if ref.read_bytes() != out.read_bytes():
        return "same values, different bytes"
    return None


def table_cases(s: Settings, table: str, out: Path) -> list[Case]:
    """The interleaved cases for one source table (files under ``out``)."""
    sums = checksums.mysql_checksums(s, table)

    def path(case: str, rep: int) -> Path:
        return out / f"{case}_{table}_{rep}.{'tsv' if case == 'mariadb-batch' else 'csv'}"

    def native(rep: int) -> list[str]:
        dump = transfer._mariadb_argv(s, f"SELECT * FROM `{table}`", "--batch", "--quick")
        return ["bash", "-c", f"{shlex.join(dump)} > {shlex.quote(str(path('mariadb-batch', rep)))}"]

    def osirisc(rep: int) -> list[str]:
        return [str(s.osirisc), "run", str(transfer.PIPELINES / "mysql_csv.yaml"), "--param",
                f"source_table={table}", "--param", f"out_path={path('osirisc', rep)}"]  # fmt: skip

    def proto(module: str, name: str, *extra: str) -> Callable[[int], list[str]]:
        return lambda rep: [str(s.python), "-m", module, table, str(path(name, rep)), *extra]

    def verify(name: str) -> Callable[[int], str | None]:
        return lambda rep: compare(path("osirisc", rep), path(name, rep))

    def verify_osirisc(rep: int) -> str | None:
        # a quoted "" is the empty string, not NULL (DuckDB's default reads it as NULL)
        relation = transfer.csv_relation(path("osirisc", rep), native=False)[:-1] + ", allow_quoted_nulls=false)"
        return checksums.compare(sums, checksums.duckdb_checksums(relation))

    def cleanup(*names: str) -> Callable[[int], None]:
        def drop(rep: int) -> None:
            for n in names:
                path(n, rep).unlink(missing_ok=True)

        return drop

    protos = [
        ("server-csv-direct", proto(PROTO[0], "server-csv-direct", "--mode", "direct")),
        ("server-csv-pipe", proto(PROTO[0], "server-csv-pipe", "--mode", "pipe")),
        ("arrow-lean", proto(PROTO[1], "arrow-lean")),
    ]
    return [
        Case("mariadb-batch", native, cleanup=cleanup("mariadb-batch"), verifies=False),
        Case("osirisc", osirisc, verify_osirisc, cwd=transfer.PIPELINES),
        *[Case(n, argv, verify(n), cleanup(n)) for n, argv in protos[:-1]],
        # the last case also removes osirisc's file of the repeat, which the others were compared with
        Case(protos[-1][0], protos[-1][1], verify(protos[-1][0]), cleanup(protos[-1][0], "osirisc")),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tables", default="src,awk")
    a = ap.parse_args(argv)
    s = Settings.from_env()
    out = s.work_dir / "mysql_csv_proto"
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {}
    for kind in a.tables.split(","):
        table = datagen.ensure_mysql_source(s, a.rows) if kind == "src" else datagen.ensure_mysql_awkward(s, a.rows)
        print(f"{table}:", flush=True)
        cases = table_cases(s, table, out)
        results = interleave(cases, a.repeats, s.child_env(), s.timeout, lambda m: print(m, flush=True))
        base = next(r for r in results if r.name == "mariadb-batch")
        rows = []
        for r in results:
            rows.append({**r.to_json(), "ratio_vs_mariadb_batch": ratio(r.wall_median, base.wall_median)})
            print(f"  {r.name:20} wall {r.wall_median or float('nan'):.2f} s  cpu {r.cpu_median or float('nan'):.2f} s"
                  f"  rss {r.rss_median or float('nan'):.0f} MB  x{ratio(r.wall_median, base.wall_median)}  "
                  f"{r.status} {r.error or ''}", flush=True)  # fmt: skip
        report[table] = rows
    dest = BENCH_DIR / "results" / "prototypes-mysql-csv.json"
    dest.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
