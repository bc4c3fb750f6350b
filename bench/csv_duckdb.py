"""CSV -> DuckDB GROUP BY -> CSV: osirisc (csv_extractor -> duckdb.processor -> csv_writer) against DuckDB alone
running the same SQL in one process. Both outputs are compared with each other and with the expected row count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from bench import datagen, osiris_ref
from bench.measure import Case, CaseResult, interleave
from bench.settings import BENCH_DIR, Settings

SQL = (
    "SELECT customer_id, status, COUNT(*) AS n, SUM(amount) AS total, MAX(created_at) AS last_at "
    "FROM input_df GROUP BY customer_id, status ORDER BY customer_id, status"
)
REFERENCE = """
import sys, duckdb
src, dst, sql = sys.argv[1:4]
con = duckdb.connect()
con.execute(f"CREATE VIEW input_df AS SELECT * FROM read_csv_auto('{src}')")
con.execute(f"COPY ({sql}) TO '{dst}' (FORMAT csv, HEADER true)")
"""
_NORMAL = (
    "SELECT CAST(customer_id AS BIGINT) c, CAST(status AS VARCHAR) s, CAST(n AS BIGINT) n, "
    "CAST(total AS DECIMAL(18,2)) t, CAST(last_at AS TIMESTAMP) l FROM read_csv_auto('{p}')"
)


def _differs(a: Path, b: Path) -> str | None:
    con = duckdb.connect()
    try:
        left, right = _NORMAL.format(p=a), _NORMAL.format(p=b)
        count = con.execute(f"SELECT COUNT(*) FROM read_csv_auto('{a}')").fetchone()[0]  # type: ignore[index]
        extra = con.execute(f"SELECT COUNT(*) FROM (({left}) EXCEPT ALL ({right}))").fetchone()[0]  # type: ignore[index]
        missing = con.execute(f"SELECT COUNT(*) FROM (({right}) EXCEPT ALL ({left}))").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    if count == 0:
        return f"{a.name} is empty"
    if extra or missing:
        return f"{a.name} and {b.name} differ: {extra} rows only in the first, {missing} only in the second"
    return None


def run_csv_duckdb(
    s: Settings, rows: int, log: Callable[[str], None], repeats: int | None = None, osiris_skip: str | None = ""
) -> list[CaseResult]:
    """osirisc and DuckDB alone, and Osiris 0.5.7 (``osiris_skip``: why not; "" leaves it out)."""
    src = s.data_dir / f"orders_{rows}.csv"
    datagen.write_csv(src, rows)
    out = s.work_dir / "csv_duckdb"
    out.mkdir(parents=True, exist_ok=True)
    expected = out / f"expected_{rows}.csv"
    con = duckdb.connect()
    con.execute(f"CREATE VIEW input_df AS SELECT * FROM ({datagen.select_sql(rows)})")
    con.execute(f"COPY ({SQL}) TO '{expected}' (FORMAT csv, HEADER true)")
    con.close()

    def path(case: str, rep: int) -> Path:
        return out / f"{case}_{rows}_{rep}.csv"

    def ref(rep: int) -> list[str]:
        return [str(s.python), "-c", REFERENCE, str(src), str(path("duckdb", rep)), SQL]

    def osirisc(rep: int) -> list[str]:
        path("osirisc", rep).unlink(missing_ok=True)
        return [
            str(s.osirisc),
            "run",
            str(BENCH_DIR / "pipelines" / "csv_duckdb.yaml"),
            "--param",
            f"in_path={src}",
            "--param",
            f"out_path={path('osirisc', rep)}",
        ]

    def verify(case: str) -> Callable[[int], str | None]:
        return lambda rep: _differs(path(case, rep), expected)

    def cleanup(case: str) -> Callable[[int], None]:
        return lambda rep: path(case, rep).unlink(missing_ok=True)

    def osiris(rep: int) -> list[str]:
        path("osiris", rep).unlink(missing_ok=True)
        return osiris_ref.csv_duckdb_argv(s, src, SQL.replace("input_df", "df_orders"), path("osiris", rep))[0]

    cases = [
        Case("duckdb", ref, verify("duckdb"), cleanup("duckdb")),
        Case("osirisc", osirisc, verify("osirisc"), cleanup("osirisc"), cwd=BENCH_DIR / "pipelines"),
    ]
    if osiris_skip != "":
        folder = osiris_ref.project(s, "csv_duckdb", "")
        cases.append(Case(osiris_ref.NAME, osiris, verify("osiris"), cleanup("osiris"), cwd=folder, skip=osiris_skip))
    return interleave(cases, repeats or s.repeats, s.child_env(), s.timeout, log)
