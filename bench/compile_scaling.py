"""Compile scaling: `osirisc build` of generated pipelines with N steps (groups of ten: a CSV extract, eight chained
DuckDB transforms, a CSV write), wall time incl. process start and peak RSS, against the bare interpreter start."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

from bench.measure import Case, CaseResult, interleave
from bench.settings import Settings


def pipeline(steps: int) -> dict[str, object]:
    """A valid OML document with ``steps`` steps (a multiple of 10 gives whole groups; the rest are extracts)."""
    out: list[dict[str, object]] = []
    for g in range(steps // 10):
        prev = f"g{g}-read"
        out.append(
            {"id": prev, "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "input.csv"}}
        )
        for t in range(8):
            sid = f"g{g}-t{t}"
            out.append(
                {
                    "id": sid,
                    "component": "duckdb.processor",
                    "mode": "transform",
                    "needs": [prev],
                    "config": {"query": f"SELECT id, amount + {t} AS amount, status FROM input_df WHERE id > {t}"},
                }
            )
            prev = sid
        out.append(
            {
                "id": f"g{g}-write",
                "component": "filesystem.csv_writer",
                "mode": "write",
                "needs": [prev],
                "config": {"path": f"out/g{g}.csv"},
            }
        )
    out += [
        {"id": f"extra-{i}", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "input.csv"}}
        for i in range(steps % 10)
    ]
    return {"oml_version": "0.1.0", "name": f"bench-build-{steps}", "steps": out}


def write_pipelines(folder: Path, sizes: Sequence[int]) -> dict[int, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.csv").write_text("id,amount,status\n1,1.50,new\n2,2.25,paid\n", encoding="utf-8")
    paths = {}
    for n in sizes:
        paths[n] = folder / f"pipeline_{n}.yaml"
        paths[n].write_text(yaml.safe_dump(pipeline(n), sort_keys=False), encoding="utf-8")
    return paths


BUDGET_S = 20.0  # a build slower than this is run once, and larger pipelines are not built (keeps the run bounded)


def _too_slow(prev: int | None) -> Callable[[Mapping[str, CaseResult]], str | None]:
    def check(done: Mapping[str, CaseResult]) -> str | None:
        res = done.get(f"build-{prev}")
        first = res.samples[0].wall if res and res.samples else 0.0
        if first > BUDGET_S:
            return f"build-{prev} took {first:.1f} s; a larger pipeline would exceed the run's time budget"
        return None

    return check


def run_compile(
    s: Settings, sizes: Sequence[int], log: Callable[[str], None], repeats: int | None = None
) -> list[CaseResult]:
    folder = s.work_dir / "build"
    paths = write_pipelines(folder, sizes)

    def build(n: int) -> Callable[[int], list[str]]:
        def argv(rep: int) -> list[str]:
            shutil.rmtree(folder / f"out_{n}", ignore_errors=True)
            return [str(s.osirisc), "build", str(paths[n]), "-o", str(folder / f"out_{n}")]

        return argv

    def built(n: int) -> Callable[[int], str | None]:
        return lambda rep: None if (folder / f"out_{n}" / "plan.json").is_file() else "no plan.json written"

    cases = [Case("python-start", lambda rep: [str(s.python), "-c", "pass"], verifies=False)]
    for prev, n in zip([None, *sizes], sizes, strict=False):
        cases.append(Case(f"build-{n}", build(n), built(n), cwd=folder, budget_s=BUDGET_S, skip_if=_too_slow(prev)))

    return interleave(cases, repeats or s.repeats, s.child_env(), s.timeout, log)
