"""Two steps writing one DuckDB file from two threads (regression: DuckDB's per-file instance cache raced and a
query failed with "python_arrow_scan does not exist" in about half of such rounds)."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pyarrow as pa

from osiris.runtime import duckdb_files


def _write(path: Path, table: str, errors: list[str]) -> None:
    try:
        with duckdb_files.connected(path) as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} (a BIGINT)")
            con.register("__in", pa.table({"a": list(range(500))}).to_reader(max_chunksize=100))
            con.execute(f"INSERT INTO {table} SELECT * FROM __in")
            con.unregister("__in")
            con.execute("COMMIT")
    except Exception as exc:  # collected: the assertion below shows every failure
        errors.append(repr(exc))


def test_concurrent_steps_on_one_file(tmp_path: Path) -> None:
    errors: list[str] = []
    rounds = 60
    for r in range(rounds):
        path = tmp_path / f"db{r % 3}.duckdb"
        threads = [threading.Thread(target=_write, args=(path, t, errors)) for t in ("j", "one")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    for i in range(3):
        with duckdb.connect(str(tmp_path / f"db{i}.duckdb"), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM j").fetchone() == (rounds // 3 * 500,)
    assert duckdb_files._open == {}
