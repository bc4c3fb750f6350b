"""DuckDB writer modes executed for real (plan completed at run time from the Arrow schema), and the extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from osiris.components.duckdb_extractor.driver import Driver as Extractor
from osiris.components.duckdb_writer.driver import Driver as Writer
from osiris.runtime.driver import StepContext, StepError


def _write(tmp_path: Path, table: pa.Table, **config: Any) -> list[dict[str, Any]]:
    cfg = {"path": "db/w.duckdb", "table": "t", **config}
    events: list[dict[str, Any]] = []
    ctx = StepContext("w", cfg, None, tmp_path, tmp_path, event=lambda kind, data: events.append(dict(data)))
    Writer({"config": cfg, "write": None}, ctx).run(
        {"input_df": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))}
    )
    return events


def _rows(tmp_path: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "db" / "w.duckdb")) as con:
        return con.sql("SELECT * FROM t ORDER BY 1").fetchall()


def test_modes(tmp_path: Path) -> None:
    first = pa.table({"id": [1, 2], "v": ["a", "b"]})
    events = _write(tmp_path, first, write_mode="append")
    assert events[0]["statements"][0].startswith('CREATE TABLE IF NOT EXISTS "t"')
    _write(tmp_path, first, write_mode="append")
    assert len(_rows(tmp_path)) == 4
    _write(tmp_path, pa.table({"id": [3], "v": ["c"]}), write_mode="truncate")
    assert _rows(tmp_path) == [(3, "c")]


def test_upsert_and_replace(tmp_path: Path) -> None:
    _write(tmp_path, pa.table({"id": [1, 2], "v": ["a", "b"]}), write_mode="upsert", primary_key="id")
    _write(tmp_path, pa.table({"id": [2, 3], "v": ["B", "c"]}), write_mode="upsert", primary_key="id")
    assert _rows(tmp_path) == [(1, "a"), (2, "B"), (3, "c")]
    _write(tmp_path, pa.table({"id": [9], "v": ["z"]}), write_mode="replace", primary_key="id")
    assert _rows(tmp_path) == [(9, "z")]
    _write(
        tmp_path,
        pa.table({"id": pa.array([], pa.int64()), "v": pa.array([], pa.string())}),
        write_mode="replace",
        primary_key="id",
    )
    assert _rows(tmp_path) == []


def test_incompatible_table_is_refused_and_untouched(tmp_path: Path) -> None:
    _write(tmp_path, pa.table({"id": [1]}))
    with pytest.raises(StepError, match="missing column 'extra'"):
        _write(tmp_path, pa.table({"id": [2], "extra": ["x"]}))
    assert _rows(tmp_path) == [(1,)]
    _write(tmp_path, pa.table({"id": [2], "extra": ["x"]}), schema_evolution="add_columns")
    assert _rows(tmp_path) == [(1, None), (2, "x")]


def test_extractor_table_columns_and_query(tmp_path: Path) -> None:
    _write(tmp_path, pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}))

    def read(**cfg: Any) -> pa.Table:
        config = {"path": "db/w.duckdb", **cfg}
        return Extractor({"config": config}, StepContext("e", config, None, tmp_path, tmp_path)).run({}).read_all()

    assert read(table="t", columns=["v"]).to_pylist() == [{"v": "a"}, {"v": "b"}, {"v": "c"}]
    assert read(query="SELECT sum(id) AS s FROM t").to_pylist() == [{"s": 6}]
    with pytest.raises(StepError, match="does not exist"):
        read(path="missing.duckdb", table="t")
    with pytest.raises(StepError, match="nope"):
        read(table="nope")
