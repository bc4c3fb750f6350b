"""mysql.writer writes every row exactly or refuses, leaving the target as it was: duplicate keys, values that do
not fit, in every write mode and on both load paths (LOAD DATA LOCAL and INSERT); DDL of a failed run is undone;
the executed statements are recorded like the other writers do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pymysql
import pytest

from osiris import dialects
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.runtime.driver import StepContext, StepError

MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
ORIGINAL = [(1, "a"), (2, "b"), (3, None)]
pytestmark = pytest.mark.db


@pytest.fixture
def db(mysql_db: str) -> str:
    with _conn(mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(5))")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", ORIGINAL)
    return mysql_db


def _conn(db: str) -> Any:
    return pymysql.connect(**MY, database=db, autocommit=True, charset="utf8mb4")


def _rows(db: str, table: str = "t") -> list[tuple[Any, ...]]:
    with _conn(db) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM `{table}` ORDER BY 1")
        return list(cur.fetchall())


def _tables(db: str) -> list[str]:
    with _conn(db) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        return sorted(r[0] for r in cur.fetchall())


def _input(rows: list[tuple[int, str | None]], batch: int = 1000) -> pa.RecordBatchReader:
    table = pa.table({"id": pa.array([r[0] for r in rows], pa.int32()), "s": pa.array([r[1] for r in rows])})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=batch))


def _write(
    db: str, tmp_path: Path, mode: str, rows: list[tuple[int, str | None]], *, bulk: bool, table: str = "t", **kw: Any
) -> list[Any]:
    reader = _input(rows)
    plan = dialects.plan_write(
        "mysql", {"schema": db, "table": table}, mode, dialects.columns_from_arrow(reader.schema),
        kw.pop("pk", ["id"] if mode in ("replace", "upsert") else None), **kw,
    )  # fmt: skip
    events: list[Any] = []
    ctx = StepContext("w", {}, {**MY, "database": db}, tmp_path, tmp_path, event=lambda k, d: events.append((k, d)))
    writer = MySQLWriter({"write": plan}, ctx)
    writer.bulk = bulk
    writer.run({"in": reader})
    return events


def _fresh(n: int, start: int = 100) -> list[tuple[int, str | None]]:
    """``n`` new rows that fit, spread over several input batches."""
    return [(start + i, f"v{i % 1000}") for i in range(n)]


BULK = [pytest.param(True, id="load-data"), pytest.param(False, id="insert")]


@pytest.mark.parametrize("bulk", BULK)
def test_append_onto_an_existing_key_is_refused(db: str, tmp_path: Path, bulk: bool) -> None:
    rows = [*_fresh(2500), (1, "dup")]  # the duplicate in the third batch: the first two were already loaded
    with pytest.raises(StepError) as err:
        _write(db, tmp_path, "append", rows, bulk=bulk)
    assert "Key (id)=(1) already exists" in str(err.value)
    assert _rows(db) == ORIGINAL


@pytest.mark.parametrize("bulk", BULK)
@pytest.mark.parametrize("mode", ["append", "truncate", "replace", "upsert"])
def test_a_value_longer_than_the_column_is_refused_in_every_mode(
    db: str, tmp_path: Path, mode: str, bulk: bool
) -> None:
    rows = [*_fresh(2500), (9000, "this is longer than five")]
    with pytest.raises(StepError) as err:
        _write(db, tmp_path, mode, rows, bulk=bulk)
    message = str(err.value)
    assert "column 's'" in message, message
    if mode in ("append", "truncate"):  # loaded straight into the target: the input row is known
        assert "at input row 2501" in message, message
    assert _rows(db) == ORIGINAL


@pytest.mark.parametrize("bulk", BULK)
@pytest.mark.parametrize("mode", ["truncate", "replace"])
def test_a_key_twice_in_one_input_is_refused(db: str, tmp_path: Path, mode: str, bulk: bool) -> None:
    rows = [*_fresh(2500), (150, "again")]
    with pytest.raises(StepError) as err:
        _write(db, tmp_path, mode, rows, bulk=bulk)
    message = str(err.value)
    assert "Key (id)=(150)" in message, message
    assert _rows(db) == ORIGINAL


@pytest.mark.parametrize("bulk", BULK)
@pytest.mark.parametrize("mode", ["append", "truncate", "replace", "upsert"])
def test_every_mode_writes_exactly_when_nothing_is_wrong(db: str, tmp_path: Path, mode: str, bulk: bool) -> None:
    keyed = mode in ("replace", "upsert")  # these may bring existing keys
    rows = [(2, "B"), *_fresh(2500), (3, "\\N"), (4, None)] if keyed else [*_fresh(2500), (4, "\\N"), (5, None)]
    _write(db, tmp_path, mode, rows, bulk=bulk)
    old = {"append": ORIGINAL, "upsert": [r for r in ORIGINAL if r[0] not in (2, 3)]}.get(mode, [])
    assert _rows(db) == sorted(old + rows)


@pytest.mark.parametrize("bulk", BULK)
def test_a_failed_run_drops_the_table_it_created_and_the_columns_it_added(db: str, tmp_path: Path, bulk: bool) -> None:
    with pytest.raises(StepError):
        _write(db, tmp_path, "replace", [*_fresh(10), (105, "x")], bulk=bulk, table="new_t")
    assert _tables(db) == ["t"]
    reader_rows = [*_fresh(10), (1, "dup")]
    table = pa.table(
        {
            "id": pa.array([r[0] for r in reader_rows], pa.int32()),
            "s": [r[1] for r in reader_rows],
            "extra": pa.array([1] * len(reader_rows), pa.int64()),
        }
    )
    plan = dialects.plan_write(
        "mysql", {"schema": db, "table": "t"}, "append", dialects.columns_from_arrow(table.schema),
        schema_evolution="add_columns",
    )  # fmt: skip
    writer = MySQLWriter({"write": plan}, StepContext("w", {}, {**MY, "database": db}, tmp_path, tmp_path))
    writer.bulk = bulk
    with pytest.raises(StepError) as err:
        writer.run({"in": pa.RecordBatchReader.from_batches(table.schema, table.to_batches())})
    assert "Key (id)=(1) already exists" in str(err.value)
    with _conn(db) as conn, conn.cursor() as cur:
        cur.execute("SHOW COLUMNS FROM t")
        assert [r[0] for r in cur.fetchall()] == ["id", "s"]
    assert _rows(db) == ORIGINAL


@pytest.mark.parametrize("bulk", BULK)
def test_the_executed_statements_are_recorded(db: str, tmp_path: Path, bulk: bool) -> None:
    events = _write(db, tmp_path, "replace", _fresh(5), bulk=bulk, table="made")
    [statements] = [d["statements"] for k, d in events if k == "ddl"]
    assert statements[0].startswith("SET SESSION sql_mode = 'STRICT_ALL_TABLES")
    assert statements[1] == f"SELECT GET_LOCK('osiris.writer:{db}.made', 0)"
    assert statements[2].startswith(f"CREATE TABLE IF NOT EXISTS `{db}`.`made`")
    # a replace into a table this run creates loads straight into it (no staging table)
    into = f"`{db}`.`made` "
    load = (
        f"LOAD DATA LOCAL INFILE '<one temporary file per batch>' INTO TABLE {into}" if bulk else f"INSERT INTO {into}"
    )
    assert any(s.startswith(load) for s in statements), statements
    assert not any("osiris_stg_made" in s for s in statements), statements
    assert statements[-1] == "COMMIT"
    assert _rows(db, "made") == _fresh(5)
    # a failed write is recorded too: what ran, the rollback, and the undo of the table it created
    events.clear()
    ctx = StepContext("w", {}, {**MY, "database": db}, tmp_path, tmp_path, event=lambda k, d: events.append((k, d)))
    plan = dialects.plan_write("mysql", {"schema": db, "table": "other"}, "append", None, "id")
    with pytest.raises(StepError):
        MySQLWriter({"write": plan}, ctx).run({"in": _input([(7, "x"), (7, "again")])})
    [statements] = [d["statements"] for k, d in events if k == "ddl"]
    assert statements[-2:] == ["ROLLBACK", f"DROP TABLE IF EXISTS `{db}`.`other`"], statements
    assert "other" not in _tables(db)


@pytest.mark.parametrize("bulk", BULK)
def test_float32_extremes_are_stored_exactly(db: str, tmp_path: Path, bulk: bool) -> None:
    """float32's shortest text for its largest values (3.4028235e+38) is out of FLOAT's range for a strict server;
    every float32 must still arrive exactly (found by the conformance property test)."""
    import numpy as np

    info = np.finfo(np.float32)
    values = [float(info.max), float(info.min), float(info.tiny), float(info.smallest_subnormal), 1.1, 3.0e38]
    table = pa.table({"id": pa.array(range(len(values)), pa.int32()), "f": pa.array(values, pa.float32())})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    plan = dialects.plan_write(
        "mysql", {"schema": db, "table": "floats"}, "append", dialects.columns_from_arrow(table.schema)
    )
    writer = MySQLWriter({"write": plan}, StepContext("w", {}, {**MY, "database": db}, tmp_path, tmp_path))
    writer.bulk = bulk
    writer.run({"in": reader})
    with _conn(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT CAST(f AS DOUBLE) FROM floats ORDER BY id")  # FLOAT's own text has 6 digits
        stored = [r[0] for r in cur.fetchall()]
    expected = pa.array(values, pa.float32()).to_pylist()
    assert np.array(stored, dtype=np.float32).tolist() == expected
