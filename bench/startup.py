"""Start-up: a cold ``osirisc check examples/quickstart/pipeline.yaml`` (no cache of any kind) against the bare
interpreter start, plus what the two remaining start-up helpers save:

- ``check-duck-cache``: the same check with the DuckDB-answers cache (passes/duck_cache.py) warm (warmed untimed);
- ``check-no-quick-schema``: the cold check with passes/quick_schema.py switched off, so every config is judged by
  jsonschema (imported for it).

Every case runs through ``env OSIRIS_CACHE_DIR=...`` (the reference too, so each pays the same extra exec)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from bench.measure import Case, CaseResult, interleave, run_measured
from bench.settings import ROOT, Settings

PIPELINE = ROOT / "examples" / "quickstart" / "pipeline.yaml"
ENV = "/usr/bin/env"
NO_QUICK = (
    "from osiris.passes import quick_schema; quick_schema.verdict = lambda schema, data: None; "
    "from osiris.cli import entry; entry()"
)


def run_startup(s: Settings, log: Callable[[str], None], repeats: int = 5) -> list[CaseResult]:
    cache = s.work_dir / "startup-cache"
    shutil.rmtree(cache, ignore_errors=True)
    check = [str(s.osirisc), "check", str(PIPELINE)]
    env = s.child_env()
    warm = run_measured([ENV, f"OSIRIS_CACHE_DIR={cache}", *check], env, ROOT, s.timeout)  # untimed warm-up
    cold_cache = None
    if not warm.ok or not cache.is_dir() or not any(cache.iterdir()):
        cold_cache = f"the warm-up did not fill the cache: {warm.stderr.strip()[-300:]}"

    def argv(*args: str) -> Callable[[int], list[str]]:
        return lambda rep: [ENV, *args]

    cases = [
        Case("python-start", argv("OSIRIS_CACHE_DIR=", str(s.python), "-c", "pass"), verifies=False),
        Case("check-cold", argv("OSIRIS_CACHE_DIR=", *check), verifies=False, cwd=ROOT),
        Case("check-duck-cache", argv(f"OSIRIS_CACHE_DIR={cache}", *check), verifies=False, cwd=ROOT, skip=cold_cache),
        Case(
            "check-no-quick-schema",
            argv("OSIRIS_CACHE_DIR=", str(s.python), "-c", NO_QUICK, "check", str(PIPELINE)),
            verifies=False,
            cwd=ROOT,
        ),
    ]
    try:
        return interleave(cases, repeats, env, s.timeout, log)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def figures(cases: list[CaseResult]) -> dict[str, float | None]:
    """Seconds and ratios of the section's note: cold vs interpreter start, and what each helper saves (wall, and
    CPU seconds, user + system, which a busy machine disturbs less)."""
    wall = {c.name: c.wall_median for c in cases}
    cpu = {c.name: c.cpu_median for c in cases}

    def diff(a: float | None, b: float | None) -> float | None:
        return round(a - b, 3) if a is not None and b is not None else None

    def times(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    cold = wall.get("check-cold")
    return {
        "check cold s": None if cold is None else round(cold, 3),
        "check cold x python -c pass": times(cold, wall.get("python-start")),
        "check cold CPU s": cpu.get("check-cold"),
        "duck cache saves s": diff(cold, wall.get("check-duck-cache")),
        "duck cache saves CPU s": diff(cpu.get("check-cold"), cpu.get("check-duck-cache")),
        "quick_schema saves s": diff(wall.get("check-no-quick-schema"), cold),
        "quick_schema saves CPU s": diff(cpu.get("check-no-quick-schema"), cpu.get("check-cold")),
    }
