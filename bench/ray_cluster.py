"""The `ray` section: MySQL -> PostgreSQL on `osirisc run --target ray` with 1 and 2 partitions of the read, against
`osirisc run` (local) of the same pipeline (pipelines/ray_transfer.yaml), every copy verified like the transfer's.

Each Ray case starts its own local Ray instance (as `osirisc run --target ray` without --address does), so its wall
time includes Ray's start; the `run_s` figures are the runs' own durations (status.json `duration_ms`: from the
first step's start to the last one's end), which leave that start out. On a 2-core machine the extra partition
competes for the same cores as the writer, the database servers and Ray itself: the figures say what it gives here,
not what it gives on a cluster."""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import checksums, datagen
from bench.measure import Case, CaseResult, interleave
from bench.settings import BENCH_DIR, Settings
from bench.transfer import _Targets

PIPELINES = BENCH_DIR / "pipelines"
CASES = (("local", "local", 1), ("ray-1", "ray", 1), ("ray-2", "ray", 2))


def run_ray(
    s: Settings, rows: int, log: Callable[[str], None], repeats: int | None = None
) -> tuple[list[CaseResult], dict[str, Any]]:
    source = datagen.ensure_mysql_source(s, rows)
    datagen.ensure_pg_schema(s)
    t = _Targets(s, rows, checksums.mysql_checksums(s, source))
    runs = s.work_dir / "ray-runs"

    def record(case: str, rep: int) -> Path:
        return runs / f"{case}-{rep}"

    def argv_of(case: str, target: str, partitions: int) -> Callable[[int], list[str]]:
        def argv(rep: int) -> list[str]:
            datagen.pg_drop(s, t.name(case, rep))
            shutil.rmtree(record(case, rep), ignore_errors=True)
            return [
                str(s.osirisc),
                "run",
                str(PIPELINES / "ray_transfer.yaml"),
                "--target",
                target,
                "--param",
                f"source_table={source}",
                "--param",
                f"target_schema={s.pg_schema}",
                "--param",
                f"target_table={t.name(case, rep)}",
                "--param",
                f"partitions={partitions}",
                "--runs-dir",
                str(record(case, rep)),
            ]

        return argv

    cases = [
        Case(name, argv_of(name, target, n), t.verify(name), t.drop(name), cwd=PIPELINES) for name, target, n in CASES
    ]
    results = interleave(cases, repeats or s.repeats, s.child_env(), s.timeout, log)
    figures: dict[str, Any] = {}
    for name, _, _ in CASES:
        seconds = [json.loads(p.read_text())["duration_ms"] / 1000 for p in runs.glob(f"{name}-*/*/*/status.json")]
        figures[f"run_s {name}"] = round(statistics.median(seconds), 2) if seconds else None
    local = figures.get("run_s local")
    for name in ("ray-1", "ray-2"):
        run_s = figures.get(f"run_s {name}")
        figures[f"run_s {name} / local"] = round(run_s / local, 2) if run_s and local else None
    one, two = figures.get("run_s ray-1"), figures.get("run_s ray-2")
    figures["run_s ray-2 / ray-1"] = round(two / one, 2) if one and two else None
    return results, figures
