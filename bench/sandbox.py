"""Sandbox overhead: `osirisc emit --target e2b` (time, bundle size) and `osirisc run --target sandbox` (the local
stand-in of E2B, no credentials needed) with a fresh venv and with --reuse-venv, against a local `osirisc run` of
the same pipeline; set-up, execution and collection come from the CLI's "(sandbox: setup X s, execute Y s, collect
Z s)" line. A real E2B run is reported as "not available" while E2B_API_KEY is missing."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bench import csv_duckdb, datagen
from bench.measure import Case, CaseResult, interleave, run_measured
from bench.settings import BENCH_DIR, Settings

PHASES = re.compile(r"\((?:sandbox|e2b): ((?:\w+ [0-9.]+ s(?:, )?)+)\)")


def _available(s: Settings, command: str) -> str | None:
    """None when `osirisc COMMAND` exists, else why not."""
    proc = subprocess.run(
        [str(s.osirisc), command, "--help"], capture_output=True, text=True, check=False, env=s.child_env()
    )
    if proc.returncode:
        return f"`osirisc {command}` is not available: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
    return None


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def phases(text: str) -> dict[str, float] | None:
    """The sandbox phase seconds the CLI printed, or None."""
    m = PHASES.search(text)
    return None if m is None else {f"{k}_s": float(v) for k, v in re.findall(r"(\w+) ([0-9.]+) s", m.group(1))}


def _workspace(s: Settings, rows: int) -> Path:
    """A pipeline folder the sandbox can reach: the bench pipeline, its input (in.csv) and the expected output."""
    work = s.work_dir / "sandbox"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(BENCH_DIR / "pipelines" / "csv_duckdb.yaml", work / "csv_duckdb.yaml")
    src = s.data_dir / f"orders_{rows}.csv"
    datagen.write_csv(src, rows)
    shutil.copy(src, work / "in.csv")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW input_df AS SELECT * FROM ({datagen.select_sql(rows)})")
    con.execute(f"COPY ({csv_duckdb.SQL}) TO '{work / 'expected.csv'}' (FORMAT csv, HEADER true)")
    con.close()
    return work


def _emit(s: Settings, work: Path) -> dict[str, Any]:
    if why := _available(s, "emit"):
        return {"status": f"not available: {why}"}
    out = s.work_dir / "bundle"
    shutil.rmtree(out, ignore_errors=True)
    sample = run_measured(
        [str(s.osirisc), "emit", "csv_duckdb.yaml", "--target", "e2b", "-o", str(out)], s.child_env(), work, s.timeout
    )
    if not sample.ok:
        return {"status": f"FAILED: {sample.stderr.strip()[-400:]}"}
    return {"status": "ok", "wall_s": round(sample.wall, 3), "bundle_bytes": _size(out)}


def run_sandbox(
    s: Settings, rows: int, log: Callable[[str], None], repeats: int | None = None
) -> tuple[list[CaseResult], dict[str, Any]]:
    """Cases `local`, `sandbox-fresh`, `sandbox-reuse` (each output verified) and the section's figures."""
    work = _workspace(s, rows)
    figures: dict[str, Any] = {}
    emit = _emit(s, work)
    figures["emit --target e2b"] = emit["status"] + "".join(f", {k} {v}" for k, v in emit.items() if k != "status")
    log(f"  emit: {figures['emit --target e2b']}")

    def argv(case: str, extra: list[str]) -> Callable[[int], list[str]]:
        def prepare(rep: int) -> list[str]:
            (work / f"out_{case}_{rep}.csv").unlink(missing_ok=True)
            base = [str(s.osirisc), "run", "csv_duckdb.yaml", "--param", f"out_path=out_{case}_{rep}.csv"]
            return base + extra

        return prepare

    def verify(case: str) -> Callable[[int], str | None]:
        return lambda rep: csv_duckdb._differs(work / f"out_{case}_{rep}.csv", work / "expected.csv")

    def cleanup(case: str) -> Callable[[int], None]:
        return lambda rep: (work / f"out_{case}_{rep}.csv").unlink(missing_ok=True)

    why = _available(s, "run")
    reuse = ["--target", "sandbox", "--reuse-venv"]
    if why is None:  # the first --reuse-venv run builds the cached venv: not timed
        warm = run_measured([*argv("warm", reuse)(0)], s.child_env(), work, s.timeout)
        if not warm.ok:
            why = f"`osirisc run --target sandbox` failed: {warm.stderr.strip()[-400:]}"
    cases = [
        Case(name, argv(name, extra), verify(name), cleanup(name), cwd=work, skip=why)
        for name, extra in (("local", []), ("sandbox-fresh", ["--target", "sandbox"]), ("sandbox-reuse", reuse))
    ]
    results = interleave(cases, repeats or s.repeats, s.child_env(), s.timeout, log)
    for res in results:
        found = [p for p in (phases(x.stderr) for x in res.samples if x.ok) if p]
        if res.name != "local" and found and res.ok:
            med = {k: round(statistics.median(p[k] for p in found), 3) for k in found[0]}
            res.extra["phases"] = med
            figures[f"{res.name} phases (median s)"] = ", ".join(f"{k[:-2]} {v:.2f}" for k, v in med.items())
    if os.environ.get("E2B_API_KEY"):
        figures["run --target e2b"] = "not measured here (this machine has no route to E2B)"
    else:
        figures["run --target e2b"] = "not available: E2B_API_KEY is not set (and this machine has no route to E2B)"
    return results, figures
