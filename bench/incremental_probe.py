"""What an incremental run costs against a full copy measured in the same run (docs/incremental.md).

MySQL ``bench.src_<ROWS>`` (the harness's table, read only: ``python -m bench --only transfer`` creates it) ->
PostgreSQL, through ``osirisc run`` processes, interleaved, medians of REPEATS:

- ``full``: the pipeline without ``incremental`` (the reference);
- ``incr-1%``: an incremental run after a committed run that loaded ids below the last 1% (``end_value``), so it reads
  the last 1% only (cursor ``id``, the primary key);
- ``incr-0``: an incremental run with nothing new (the predicate finds no row).

Every target is a fresh table in a schema of its own (dropped at the end) and is verified by row count.

Run: ``.venv/bin/python bench/incremental_probe.py [ROWS] [REPEATS]`` (default 1,000,000 and 3).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

PG: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
HERE = Path(__file__).resolve().parent
OSIRISC = Path(sys.executable).with_name("osirisc")


def pipeline(folder: Path, name: str, table: str, schema: str, target: str, *, incremental: dict | None) -> Path:
    source: dict[str, Any] = {"connection": "@mysql.bench", "table": table, "batch_size": 100_000}
    if incremental is not None:
        source["incremental"] = incremental
    steps = [
        {"id": "extract", "component": "mysql.extractor", "mode": "read", "config": source},
        {"id": "load", "component": "postgres.writer", "mode": "write", "needs": ["extract"],
         "config": {"connection": "@postgres.bench", "schema": schema, "table": target, "write_mode": "append",
                    "create_if_missing": True}},
    ]  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps({"oml_version": "0.1.0", "name": name, "steps": steps}), encoding="utf-8")
    return path


def timed(path: Path, runs: Path) -> float:
    argv = [str(OSIRISC), "run", str(path), "--runs-dir", str(runs), "--connections",
            str(HERE / "pipelines" / "osiris_connections.yaml")]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{path.name} failed:\n{done.stderr}")
    return seconds


def count(schema: str, table: str) -> int:
    with psycopg.connect(**PG) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0])  # type: ignore[index]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    table = f"src_{rows}"
    cut = rows - rows // 100 + 1  # ids are 1..rows: the first run loads ids < cut, the next the last 1%
    schema = f"incr_probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    times: dict[str, list[float]] = {"full": [], "incr-1%": [], "incr-0": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder, runs = Path(tmp), Path(tmp) / "runs"
            for rep in range(repeats):
                full = pipeline(folder, f"full-{rep}", table, schema, f"full_{rep}", incremental=None)
                times["full"].append(timed(full, runs))
                assert count(schema, f"full_{rep}") == rows
                inc = {"cursor_column": "id"}
                name, target = f"incr-{rep}", f"incr_{rep}"
                timed(
                    pipeline(folder, name, table, schema, target, incremental={**inc, "end_value": cut}), runs
                )  # 99%: untimed
                assert count(schema, target) == cut - 1
                times["incr-1%"].append(timed(pipeline(folder, name, table, schema, target, incremental=inc), runs))
                assert count(schema, target) == rows
                times["incr-0"].append(timed(pipeline(folder, name, table, schema, target, incremental=inc), runs))
                assert count(schema, target) == rows
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    reference = statistics.median(times["full"])
    print(f"{rows:,} rows, {repeats} repeats, medians (wall, osirisc process incl. start-up)")
    for case, values in times.items():
        median = statistics.median(values)
        print(f"  {case:<8} {median:7.2f} s   {median / reference:5.2f}x full")


if __name__ == "__main__":
    main()
