"""MySQL -> PostgreSQL transfer (osirisc vs native client pipe, dlt backends, pandas), MySQL -> CSV export, and
peak memory of the transfer as the table grows. Every copy lands in a fresh table and is verified by checksums."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import checksums, datagen, osiris_ref
from bench.measure import Case, CaseResult, interleave
from bench.settings import BENCH_DIR, Settings

PIPELINES = BENCH_DIR / "pipelines"
DLT_BACKENDS = ("sqlalchemy", "pyarrow", "connectorx", "pandas")  # sqlalchemy is dlt's default
DLT_DEFAULT = "sqlalchemy"
DLT_STATE_TABLES = ("_dlt_version", "_dlt_loads", "_dlt_pipeline_state")
Log = Callable[[str], None]


def _mariadb_argv(s: Settings, sql: str, *extra: str) -> list[str]:
    return ["mariadb", "-h", s.mysql_host, "-P", str(s.mysql_port), "-u", s.mysql_user, *extra, "-e", sql, s.mysql_db]


def _psql_argv(s: Settings, command: str) -> list[str]:
    return [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        s.pg_host,
        "-p",
        str(s.pg_port),
        "-U",
        s.pg_user,
        "-d",
        s.pg_db,
        "-c",
        command,
    ]


def native_copy_argv(s: Settings, source: str, target: str) -> list[str]:
    """`mariadb --batch` (tab separated, backslash escapes, NULL spelled NULL) piped into psql `\\copy`."""
    dump = _mariadb_argv(s, f"SELECT * FROM `{source}`", "--batch", "--quick", "--skip-column-names")
    load = _psql_argv(s, f'\\copy "{s.pg_schema}"."{target}" FROM STDIN WITH (FORMAT text, NULL \'NULL\')')
    return ["bash", "-c", f"set -o pipefail; {shlex.join(dump)} | {shlex.join(load)}"]


class _Targets:
    """Fresh target table names per case and repeat, verification against the source checksums, cleanup."""

    def __init__(self, s: Settings, rows: int, source_sums: dict[str, Any]):
        self.s, self.rows, self.source_sums = s, rows, source_sums

    def name(self, case: str, rep: int) -> str:
        return f"t_{case.replace('-', '_')}_{self.rows}_{rep}"

    def verify(self, case: str) -> Callable[[int], str | None]:
        return lambda rep: checksums.compare(self.source_sums, checksums.pg_checksums(self.s, self.name(case, rep)))

    def drop(self, case: str) -> Callable[[int], None]:
        return lambda rep: datagen.pg_drop(self.s, self.name(case, rep))


def transfer_cases(
    s: Settings,
    rows: int,
    *,
    source: str,
    source_sums: dict[str, Any],
    dlt_backends: Sequence[str],
    refs_skip: str | None,
    pandas: bool = True,
    slow_runs: int | None = None,
) -> list[Case]:
    """``slow_runs`` caps the runs of dlt's default backend (when another backend is also measured) and pandas."""
    t = _Targets(s, rows, source_sums)
    work = s.work_dir / "dlt"

    def native(rep: int) -> list[str]:
        datagen.pg_create_target(s, t.name("native", rep))
        return native_copy_argv(s, source, t.name("native", rep))

    def osirisc(rep: int) -> list[str]:
        datagen.pg_drop(s, t.name("osirisc", rep))
        return [
            str(s.osirisc),
            "run",
            str(PIPELINES / "transfer.yaml"),
            "--param",
            f"source_table={source}",
            "--param",
            f"target_schema={s.pg_schema}",
            "--param",
            f"target_table={t.name('osirisc', rep)}",
        ]

    def dlt(backend: str) -> Callable[[int], list[str]]:
        def argv(rep: int) -> list[str]:
            name = t.name(f"dlt_{backend}", rep)
            for table in (name, *DLT_STATE_TABLES):  # dlt remembers created tables in its state: start fresh
                datagen.pg_drop(s, table)
            shutil.rmtree(work / f"bench_{name}", ignore_errors=True)
            return [str(s.ref_python), str(BENCH_DIR / "refs" / "dlt_copy.py"), backend, source, name, str(work)]

        return argv

    def pandas_argv(rep: int) -> list[str]:
        datagen.pg_drop(s, t.name("pandas", rep))
        return [str(s.ref_python), str(BENCH_DIR / "refs" / "pandas_copy.py"), source, t.name("pandas", rep)]

    cases = [
        Case("native", native, t.verify("native"), t.drop("native")),
        Case("osirisc", osirisc, t.verify("osirisc"), t.drop("osirisc"), cwd=PIPELINES),
    ]
    for backend in dlt_backends:
        name = f"dlt-{backend}"
        cap = slow_runs if backend == DLT_DEFAULT and len(dlt_backends) > 1 else None
        cases.append(
            Case(name, dlt(backend), t.verify(f"dlt_{backend}"), t.drop(f"dlt_{backend}"), skip=refs_skip, max_runs=cap)
        )
    if pandas:
        cases.append(
            Case("pandas", pandas_argv, t.verify("pandas"), t.drop("pandas"), skip=refs_skip, max_runs=slow_runs)
        )
    return cases


def run_transfer(
    s: Settings,
    rows: int,
    log: Log,
    *,
    dlt_backends: Sequence[str] = DLT_BACKENDS,
    refs_skip: str | None = None,
    repeats: int | None = None,
    pandas: bool = True,
    slow_runs: int | None = None,
) -> list[CaseResult]:
    source = datagen.ensure_mysql_source(s, rows)
    datagen.ensure_pg_schema(s)
    sums = checksums.mysql_checksums(s, source)
    cases = transfer_cases(
        s,
        rows,
        source=source,
        source_sums=sums,
        dlt_backends=dlt_backends,
        refs_skip=refs_skip,
        pandas=pandas,
        slow_runs=slow_runs,
    )
    return interleave(cases, repeats or s.repeats, s.child_env(), s.timeout, log)


def fastest_correct_dlt(results: Sequence[CaseResult]) -> str | None:
    """The dlt backend with the lowest median among the verified ones (None when none copied correctly)."""
    good = [r for r in results if r.name.startswith("dlt-") and r.ok and r.verified and r.wall_median is not None]
    return min(good, key=lambda r: r.wall_median or 0.0).name.removeprefix("dlt-") if good else None


def csv_relation(path: Path, native: bool, by_name: bool = False) -> str:
    """DuckDB relation over an exported file, with the table's column types (NULL spelled per writer); ``by_name``:
    the file's header names the columns in another order (Osiris sorts them)."""
    types = (
        "{'id': 'BIGINT', 'customer_id': 'INTEGER', 'amount': 'DECIMAL(12,2)', 'status': 'VARCHAR', "
        "'created_at': 'TIMESTAMP', 'note': 'VARCHAR'}"
    )
    if by_name:
        return f"read_csv('{path}', header=true, types={types})"
    if native:
        return f"read_csv('{path}', delim='\t', header=true, nullstr='NULL', quote='', escape='', columns={types})"
    return f"read_csv('{path}', header=true, columns={types})"


def run_mysql_csv(
    s: Settings, rows: int, log: Log, repeats: int | None = None, osiris_skip: str | None = ""
) -> list[CaseResult]:
    """MySQL -> CSV: osirisc (mysql.extractor -> filesystem.csv_writer) against `mariadb --batch > file`, and Osiris
    0.5.7 doing the same (``osiris_skip``: why not; "" leaves it out)."""
    source = datagen.ensure_mysql_source(s, rows)
    sums = checksums.mysql_checksums(s, source)
    out = s.work_dir / "mysql_csv"
    out.mkdir(parents=True, exist_ok=True)

    def path(case: str, rep: int) -> Path:
        return out / f"{case}_{rows}_{rep}.{'tsv' if case == 'native' else 'csv'}"

    def native(rep: int) -> list[str]:
        dump = _mariadb_argv(s, f"SELECT * FROM `{source}`", "--batch", "--quick")
        return ["bash", "-c", f"{shlex.join(dump)} > {shlex.quote(str(path('native', rep)))}"]

    def osirisc(rep: int) -> list[str]:
        path("osirisc", rep).unlink(missing_ok=True)
        return [
            str(s.osirisc),
            "run",
            str(PIPELINES / "mysql_csv.yaml"),
            "--param",
            f"source_table={source}",
            "--param",
            f"out_path={path('osirisc', rep)}",
        ]

    def osiris(rep: int) -> list[str]:
        path("osiris", rep).unlink(missing_ok=True)
        return osiris_ref.mysql_csv_argv(s, source, path("osiris", rep))[0]

    def verify(case: str) -> Callable[[int], str | None]:
        return lambda rep: checksums.compare(
            sums,
            checksums.duckdb_checksums(
                csv_relation(path(case, rep), native=case == "native", by_name=case == "osiris")
            ),
        )

    def cleanup(case: str) -> Callable[[int], None]:
        return lambda rep: path(case, rep).unlink(missing_ok=True)

    cases = [
        Case("mariadb-batch", native, verify("native"), cleanup("native")),
        Case("osirisc", osirisc, verify("osirisc"), cleanup("osirisc"), cwd=PIPELINES),
    ]
    if osiris_skip != "":
        folder = osiris_ref.project(s, "mysql_csv", "")
        cases.append(Case(osiris_ref.NAME, osiris, verify("osiris"), cleanup("osiris"), cwd=folder, skip=osiris_skip))
    return interleave(cases, repeats or s.repeats, s.child_env(), s.timeout, log)


def run_memory(s: Settings, sizes: Sequence[int], log: Log) -> dict[int, list[CaseResult]]:
    """Peak RSS of one verified osirisc transfer per size (the native pipe alongside, for its time ratio)."""
    return {rows: run_transfer(s, rows, log, dlt_backends=(), repeats=1, pandas=False) for rows in sizes}
