"""``python -m bench [--quick] [--only NAME] [--rows N]``: set up the data, run every benchmark interleaved against
its references, write bench/results/latest.json (and the README's results section with ``--write-readme``)."""

from __future__ import annotations

import argparse
import itertools
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    compile_scaling,
    csv_duckdb,
    modes,
    osiris_ref,
    ray_cluster,
    refenv,
    report,
    sandbox,
    secret_scan,
    startup,
    transfer,
)
from bench.measure import CaseResult, ratio
from bench.settings import BENCH_DIR, Settings

SECTIONS = (
    "transfer",
    "mysql-csv",
    "memory",
    "csv-duckdb",
    "compile",
    "startup",
    "sandbox",
    "secrets",
    "ray",
    "modes",
)
FULL = {
    "transfer": [100_000, 1_000_000],
    "mysql-csv": 1_000_000,
    "memory": [1_000_000, 5_000_000],
    "csv-duckdb": 1_000_000,
    "compile": [10, 100, 1000, 5000],
    "sandbox": 100_000,
    "secrets": [10_000, 100_000, 300_000, 1_000_000],
    "ray": 1_000_000,
    "modes": 1_000_000,
}
QUICK = {
    "transfer": [20_000],
    "mysql-csv": 100_000,
    "memory": [20_000, 100_000],
    "csv-duckdb": 100_000,
    "compile": [10, 100, 1000],
    "sandbox": 20_000,
    "secrets": [10_000, 100_000],
    "ray": 100_000,
    "modes": 20_000,
}
TARGET_ROWS = 1_000_000
OSIRIS_NOTE = (
    f"`{osiris_ref.NAME}`: Osiris from PyPI (`osiris-pipeline==0.5.7`, its own venv) running the same job with "
    f"`osiris run`. No Osiris row for PostgreSQL targets: {osiris_ref.NO_POSTGRES}."
)
MODES_NOTE = (
    "Source: MariaDB table with awkward text (tabs, newlines, CR, backslashes, quotes, the texts NULL and \\N, "
    "emoji, 10% NULL, 0.2% empty). `native-*`: `mariadb --batch --raw` of a server-escaped SELECT piped into "
    "`psql \\copy` / `LOAD DATA LOCAL INFILE '/dev/stdin'`, inside the statements of the same strategy typed by "
    "hand; each copy verified value by value. Existing tables are filled before each run (untimed)."
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, one repeat (about two minutes)")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these sections (repeatable or comma separated): {', '.join(SECTIONS)}",
    )
    p.add_argument("--rows", type=int, help="use this row count for every data benchmark")
    p.add_argument("--repeats", type=int, help="interleaved repeats per case (default 3, --quick 1)")
    p.add_argument("--build-sizes", help="comma separated step counts for the compile benchmark")
    p.add_argument("--no-ref", action="store_true", help="skip the references that need bench/.venv-ref")
    p.add_argument("--mysql-db", default="bench", help="MariaDB database for the source tables")
    p.add_argument("--pg-schema", default="bench", help="PostgreSQL schema for the copies")
    p.add_argument("--work-dir", type=Path, help="scratch folder (default bench/work)")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results", help="where latest.json goes")
    p.add_argument("--write-readme", action="store_true", help="replace the results section of bench/README.md")
    return p.parse_args(argv)


def _section(title: str, reference: str, cases: list[CaseResult], note: str = "", **figures: Any) -> dict[str, Any]:
    return {
        "title": title,
        "reference": reference,
        "cases": [c.to_json() for c in cases],
        "note": note,
        "figures": figures,
    }


def _median(cases: list[CaseResult], name: str, attr: str = "wall_median") -> float | None:
    case = next((c for c in cases if c.name == name), None)
    return getattr(case, attr) if case else None


def _target(text: str, measured: float | None, ok: bool | None, fmt: str = "{:.2f}") -> dict[str, Any]:
    return {
        "target": text,
        "measured": "-" if measured is None else fmt.format(measured),
        "met": None if measured is None else ok,
    }


def precompile(python: Path) -> str:
    """Write the bytecode of the measured osiris package (``python -m compileall``), as a regular install has: an
    editable install run with PYTHONDONTWRITEBYTECODE=1 would compile every osiris module from source at each
    start (~60 ms). Returns the package folder (as osirisc imports it: ``-P``, not the one in the working directory)."""
    where = "import os, osiris; print(os.path.dirname(osiris.__file__))"
    folder = subprocess.run([str(python), "-P", "-c", where], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([str(python), "-m", "compileall", "-q", folder], check=True)
    return folder


@dataclass
class Run:
    """What every section reads (the options, settings, sizes, log and the references' skip reasons) and the lists
    it appends its sections and targets to."""

    args: argparse.Namespace
    s: Settings
    sizes: dict[str, Any]
    log: Callable[[str], None]
    refs_skip: str | None
    osiris_skip: str | None
    sections: list[dict[str, Any]]
    targets: list[dict[str, Any]]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections in the order of SECTIONS (each is its RUNNERS entry) and write the results."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    only = {n.strip() for item in args.only for n in item.split(",") if n.strip()} or set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    sizes = _sizes(args)
    s = _settings(args)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {msg}", flush=True)

    log(f"bytecode of the measured package compiled: {precompile(s.python)}")
    refs_skip, osiris_skip = _reference_skips(args, only, s, log)
    results: dict[str, Any] = {
        "command": "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv),
        "repeats": s.repeats,
        "machine": report.machine(),
        "versions": report.tool_versions(s.osirisc),
        "ref_versions": {} if refs_skip else refenv.versions(s.ref_python),
        "sections": [],
        "targets": [],
    }
    run = Run(args, s, sizes, log, refs_skip, osiris_skip, results["sections"], results["targets"])
    for name in SECTIONS:
        if name in only:
            RUNNERS[name](run)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    readme = BENCH_DIR / "README.md" if args.write_readme else None
    path = report.write(results, args.results_dir, readme)
    print(report.markdown(results))
    log(f"results written to {path}")
    return 0


def _sizes(args: argparse.Namespace) -> dict[str, Any]:
    """The sizes of every section: quick or full, with ``--rows`` and ``--build-sizes`` over them."""
    sizes: dict[str, Any] = dict(QUICK if args.quick else FULL)
    if args.rows:
        sizes.update(
            {
                "transfer": [args.rows],
                "mysql-csv": args.rows,
                "memory": [args.rows],
                "csv-duckdb": args.rows,
                "ray": args.rows,
                "modes": args.rows,
            }
        )
    if args.build_sizes:
        sizes["compile"] = [int(n) for n in args.build_sizes.split(",")]
    return sizes


def _settings(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command line's database, schema, folders and repeats; the work folder
    is created."""
    s = Settings.from_env()
    s.mysql_db, s.pg_schema = args.mysql_db, args.pg_schema
    if args.work_dir:
        s.work_dir = args.work_dir
        s.data_dir = args.work_dir / "data"
    s.repeats = args.repeats or (1 if args.quick else 3)
    s.work_dir.mkdir(parents=True, exist_ok=True)
    return s


def _reference_skips(
    args: argparse.Namespace, only: set[str], s: Settings, log: Callable[[str], None]
) -> tuple[str | None, str | None]:
    """Why the reference venv's cases and Osiris's are skipped (None: they run), setting up the venvs the chosen
    sections need."""
    refs_skip: str | None = "not requested (--no-ref)" if args.no_ref else None
    if refs_skip is None and only & {"transfer"}:
        failed = refenv.ensure(s.ref_python.parent.parent, log)
        refs_skip = f"reference venv unavailable: {failed}" if failed else None
    osiris_skip: str | None = "not requested (--no-ref)" if args.no_ref else None
    if osiris_skip is None and only & {"mysql-csv", "csv-duckdb"}:
        failed = osiris_ref.ensure(log)
        osiris_skip = f"Osiris venv unavailable: {failed}" if failed else None
    return refs_skip, osiris_skip


def _transfer(run: Run) -> None:
    s, log, sections, targets = run.s, run.log, run.sections, run.targets
    backends: tuple[str, ...] = transfer.DLT_BACKENDS
    for rows in run.sizes["transfer"]:
        log(f"transfer MySQL -> PostgreSQL, {rows:,} rows (dlt backends: {', '.join(backends)})")
        slow = 1 if rows >= TARGET_ROWS and not run.args.repeats else None  # keeps `make bench` near 15 minutes
        cases = transfer.run_transfer(s, rows, log, dlt_backends=backends, refs_skip=run.refs_skip, slow_runs=slow)
        fastest = transfer.fastest_correct_dlt(cases)
        if slow:
            note_slow = " dlt's default backend (when not the fastest) and pandas: one run at this size (slow)."
        else:
            note_slow = ""
        note = (
            f"dlt's default backend is `{transfer.DLT_DEFAULT}`; fastest correct dlt backend here: `{fastest}`."
            if fastest
            else "No dlt backend ran or copied correctly."
        )
        sections.append(_section(f"MySQL -> PostgreSQL, {rows:,} rows", "native", cases, note + note_slow))
        if fastest and len(backends) > 2:  # larger sizes: the default and the fastest correct backend only
            backends = tuple(dict.fromkeys((transfer.DLT_DEFAULT, fastest)))
        if rows == TARGET_ROWS:
            osc, nat = _median(cases, "osirisc"), _median(cases, "native")
            dlt = _median(cases, f"dlt-{fastest}") if fastest else None
            targets.append(
                _target("transfer 1M: osirisc <= 1.5x native", ratio(osc, nat), (ratio(osc, nat) or 99) <= 1.5)
            )
            targets.append(
                _target(
                    "transfer 1M: dlt fastest correct >= 2x osirisc time",
                    ratio(dlt, osc),
                    (ratio(dlt, osc) or 0) >= 2.0,
                )
            )


def _mysql_csv(run: Run) -> None:
    rows = run.sizes["mysql-csv"]
    run.log(f"MySQL -> CSV, {rows:,} rows")
    cases = transfer.run_mysql_csv(run.s, rows, run.log, osiris_skip=run.osiris_skip)
    run.sections.append(_section(f"MySQL -> CSV, {rows:,} rows", "mariadb-batch", cases, OSIRIS_NOTE))
    if rows == TARGET_ROWS:
        r = ratio(_median(cases, "osirisc"), _median(cases, "mariadb-batch"))
        run.targets.append(_target("MySQL -> CSV 1M: osirisc <= 1.5x `mariadb --batch > file`", r, (r or 99) <= 1.5))


def _memory(run: Run) -> None:
    by_size = transfer.run_memory(run.s, run.sizes["memory"], run.log)
    rss = {rows: _median(cases, "osirisc", "rss_median") for rows, cases in by_size.items()}
    for rows, cases in by_size.items():
        run.sections.append(_section(f"Memory: transfer of {rows:,} rows (one run)", "native", cases))
    if TARGET_ROWS in rss:
        big = max(rss)
        run.targets.append(
            _target(
                "peak RSS of the 1M transfer < 250 MB",
                rss[TARGET_ROWS],
                (rss[TARGET_ROWS] or 1e9) < 250,
                "{:.0f} MB",
            )
        )
        if big > TARGET_ROWS:
            growth = ratio(rss[big], rss[TARGET_ROWS])
            run.targets.append(_target(f"peak RSS at {big:,} rows within 10% of 1M", growth, (growth or 99) <= 1.10))


def _csv_duckdb(run: Run) -> None:
    rows = run.sizes["csv-duckdb"]
    run.log(f"CSV -> DuckDB -> CSV, {rows:,} rows")
    cases = csv_duckdb.run_csv_duckdb(run.s, rows, run.log, osiris_skip=run.osiris_skip)
    run.sections.append(_section(f"CSV -> DuckDB GROUP BY -> CSV, {rows:,} rows", "duckdb", cases, OSIRIS_NOTE))
    if rows == TARGET_ROWS:
        r = ratio(_median(cases, "osirisc"), _median(cases, "duckdb"))
        run.targets.append(_target("CSV -> DuckDB -> CSV 1M: osirisc <= 1.3x DuckDB alone", r, (r or 99) <= 1.3))


def _compile(run: Run) -> None:
    run.log(f"osirisc build scaling: {run.sizes['compile']} steps")
    cases = compile_scaling.run_compile(run.s, run.sizes["compile"], run.log)
    steps = run.sizes["compile"]
    build_growth = {
        f"time x{b // a} steps ({a} -> {b})": ratio(_median(cases, f"build-{b}"), _median(cases, f"build-{a}"))
        for a, b in itertools.pairwise(steps)
    }
    run.sections.append(
        _section(
            "osirisc build scaling",
            "python-start",
            cases,
            "Wall time includes process start; `python-start` is `python -c pass`.",
            **build_growth,
        )
    )
    if 1000 in steps:
        t = _median(cases, "build-1000")
        run.targets.append(_target("build of 1,000 steps < 0.8 s wall", t, (t or 99) < 0.8, "{:.2f} s"))
    for label, g in build_growth.items():
        if "x10 " in label:
            run.targets.append(_target(f"build {label} <= 12x", g, (g or 99) <= 12))


def _startup(run: Run) -> None:
    run.log("start-up: a cold `osirisc check` of the quickstart (no cache), median of >= 5")
    cases = startup.run_startup(run.s, run.log, max(5, run.s.repeats))
    figures = startup.figures(cases)
    run.sections.append(
        _section(
            "Start-up: `osirisc check examples/quickstart/pipeline.yaml`",
            "python-start",
            cases,
            "`check-cold`: no cache at all (OSIRIS_CACHE_DIR=); `check-duck-cache`: DuckDB's answers kept "
            "(passes/duck_cache.py, warmed untimed); `check-no-quick-schema`: cold, every config judged by "
            "jsonschema (passes/quick_schema.py off). Medians of at least 5 interleaved runs.",
            **figures,
        )
    )
    cold = figures["check cold s"]
    run.targets.append(_target("cold check of the quickstart <= 0.30 s, no cache", cold, (cold or 99) <= 0.30))


def _sandbox(run: Run) -> None:
    rows = run.sizes["sandbox"]
    run.log(f"sandbox overhead, {rows:,} rows")
    cases, figures = sandbox.run_sandbox(run.s, rows, run.log)
    run.sections.append(
        _section(
            f"Sandbox overhead: CSV -> DuckDB -> CSV, {rows:,} rows",
            "local",
            cases,
            "`sandbox-*` run `osirisc run --target sandbox` (the local stand-in of E2B: bundle, venv, entry "
            "point); `fresh` builds a new venv each run, `reuse` passes `--reuse-venv` (cache warmed untimed).",
            **figures,
        )
    )


def _secrets(run: Run) -> None:
    run.log(f"secret scanning: {', '.join(f'{n:,}' for n in run.sizes['secrets'])} characters")
    run.sections.append(secret_scan.run_secret_scan(run.sizes["secrets"], max(run.s.repeats, 3), run.log))


def _ray(run: Run) -> None:
    rows = run.sizes["ray"]
    run.log(f"Ray: MySQL -> PostgreSQL, {rows:,} rows, 1 and 2 partitions vs local")
    cases, figures = ray_cluster.run_ray(run.s, rows, run.log)
    run.sections.append(
        _section(
            f"Ray: MySQL -> PostgreSQL, {rows:,} rows",
            "local",
            cases,
            "`ray-N`: `osirisc run --target ray` with N partitions of the read (a local Ray started per run: "
            "its wall time includes Ray's start); `run_s`: the runs' own durations from status.json.",
            **figures,
        )
    )


def _modes(run: Run) -> None:
    rows = run.sizes["modes"]
    run.log(f"write modes into PostgreSQL and MariaDB, {rows:,} rows")
    limits = {"replace-fresh": 1.2, "replace-existing": 1.3, "upsert": 1.3}
    for found in modes.run_modes(run.s, rows, run.log):
        cases = found["cases"]
        reference = next((c.name for c in cases if c.name.startswith("native-")), "native")
        run.sections.append(_section(found["title"], reference, cases, MODES_NOTE))
        limit = limits.get(found["scenario"])
        for label, osc, nat in modes.pairs(found):
            r = ratio(osc.wall_median, nat.wall_median)
            if rows == TARGET_ROWS and limit is not None:
                server = "PostgreSQL" if found["kind"] == "pg" else "MariaDB"
                text = f"{server} {found['scenario']} ({label}) 1M: osirisc <= {limit}x native"
                run.targets.append(_target(text, r, (r or 99) <= limit))
        if rows == TARGET_ROWS:
            rss = [c.rss_median for c in cases if c.name.startswith("osirisc-") and c.rss_median is not None]
            if rss:
                run.targets.append(
                    _target(f"peak RSS, {found['title']}: < 250 MB", max(rss), max(rss) < 250, "{:.0f} MB")
                )


RUNNERS: dict[str, Callable[[Run], None]] = {
    "transfer": _transfer,
    "mysql-csv": _mysql_csv,
    "memory": _memory,
    "csv-duckdb": _csv_duckdb,
    "compile": _compile,
    "startup": _startup,
    "sandbox": _sandbox,
    "secrets": _secrets,
    "ray": _ray,
    "modes": _modes,
}  # one per name of SECTIONS, run in that order


if __name__ == "__main__":
    sys.exit(main())
