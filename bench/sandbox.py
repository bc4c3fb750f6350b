"""Sandbox overhead: `osirisc emit --target e2b` (time, bundle size) and `osirisc run --target sandbox` (set-up vs
execution). Reports "not available" with the reason while the E2B backend or its credentials are missing."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import run_measured
from bench.settings import BENCH_DIR, Settings


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


def run_sandbox(s: Settings, log: Callable[[str], None]) -> dict[str, Any]:
    pipeline = BENCH_DIR / "pipelines" / "csv_duckdb.yaml"
    result: dict[str, Any] = {"emit": None, "run": None}
    why = _available(s, "emit")
    if why:
        result["emit"] = {"status": f"not available: {why}"}
    else:
        out = s.work_dir / "bundle"
        sample = run_measured(
            [str(s.osirisc), "emit", str(pipeline), "--target", "e2b", "-o", str(out)],
            s.child_env(),
            BENCH_DIR / "pipelines",
            s.timeout,
        )
        result["emit"] = (
            {"status": "ok", "wall_s": round(sample.wall, 3), "bundle_bytes": _size(out)}
            if sample.ok
            else {"status": f"FAILED: {sample.stderr.strip()[-400:]}"}
        )
    log(f"  emit: {result['emit']['status']}")
    if not os.environ.get("E2B_API_KEY"):
        result["run"] = {"status": "not available: E2B_API_KEY is not set (and this machine has no route to E2B)"}
    elif (why := _available(s, "run")) is not None:
        result["run"] = {"status": f"not available: {why}"}
    else:
        sample = run_measured(
            [str(s.osirisc), "run", str(pipeline), "--target", "sandbox"],
            s.child_env(),
            BENCH_DIR / "pipelines",
            s.timeout,
        )
        phases = dict(re.findall(r"\b(setup|execution)[_ ]s(?:econds)?[=:]\s*([0-9.]+)", sample.stdout + sample.stderr))
        result["run"] = (
            {"status": "ok", "wall_s": round(sample.wall, 3), **phases}
            if sample.ok
            else {"status": f"FAILED: {sample.stderr.strip()[-400:]}"}
        )
    log(f"  run --target sandbox: {result['run']['status']}")
    return result
