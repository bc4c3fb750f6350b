"""The conformance suite (osiris.testing.conformance) run on the built-in writer/extractor pairs.

CSV and DuckDB run on files under tmp_path; PostgreSQL and MariaDB on the real servers (fresh schema / database per
test). Lossy pairs are checked against exactly the loss docs/types.md states (``conformance.EXPECTED``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from osiris.components.duckdb_extractor.driver import Driver as DuckDBExtractor
from osiris.components.duckdb_writer.driver import Driver as DuckDBWriter
from osiris.components.filesystem_csv_extractor.driver import Driver as CSVExtractor
from osiris.components.filesystem_csv_writer.driver import Driver as CSVWriter
from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_extractor.driver import Driver as PGExtractor
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.runtime.driver import StepError
from osiris.testing.conformance import EXPECTED, ConformanceSuite, DriverPair
from osiris.testing.tables import canonical

PG_CONN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test", "password": ""}
MY_CONN = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def _blocked(tmp_path: Path) -> Path:
    """A path whose parent is a regular file: nothing can be created or read there."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    return blocker


class TestCSV(ConformanceSuite):
    @pytest.fixture
    def pair(self, tmp_path: Path) -> DriverPair:
        blocked = _blocked(tmp_path)
        return DriverPair(
            "filesystem.csv", CSVWriter, CSVExtractor, "csv", "csv",
            writer_config=lambda name: {"path": f"{name}.csv"},
            extractor_config=lambda name: {"path": f"{name}.csv"},
            base_dir=tmp_path, modes=(), expected=EXPECTED["csv"],
            failing=lambda secret: ({"path": str(blocked / "x.csv")}, {"password": secret}),
        )  # fmt: skip


class TestDuckDB(ConformanceSuite):
    @pytest.fixture
    def pair(self, tmp_path: Path) -> DriverPair:
        blocked = _blocked(tmp_path)

        def config(name: str) -> dict[str, Any]:
            return {"path": "conf.duckdb", "table": name}

        return DriverPair(
            "duckdb", DuckDBWriter, DuckDBExtractor, "duckdb", "duckdb", config, config, tmp_path,
            expected=EXPECTED["duckdb"],
            failing=lambda secret: ({"path": str(blocked / "x.duckdb")}, {"password": secret}),
        )  # fmt: skip


@pytest.mark.db
class TestPostgres(ConformanceSuite):
    @pytest.fixture
    def pair(self, pg_schema: str, tmp_path: Path) -> DriverPair:
        return DriverPair(
            "postgres", PGWriter, PGExtractor, "postgres", "postgres",
            writer_config=lambda name: {},
            extractor_config=lambda name: {"schema": pg_schema, "table": name},
            base_dir=tmp_path, connection=PG_CONN, schema=pg_schema, expected=EXPECTED["postgres"],
            failing=lambda secret: ({}, {**PG_CONN, "database": "osiris_no_such_db", "password": secret}),
        )  # fmt: skip


@pytest.mark.db
class TestMySQL(ConformanceSuite):
    @pytest.fixture
    def pair(self, mysql_db: str, tmp_path: Path) -> DriverPair:
        conn = {**MY_CONN, "database": mysql_db}
        return DriverPair(
            "mysql", MySQLWriter, MySQLExtractor, "mysql", "mysql",
            writer_config=lambda name: {},
            extractor_config=lambda name: {"table": name},
            base_dir=tmp_path, connection=conn, expected=EXPECTED["mysql"],
            failing=lambda secret: ({}, {**conn, "password": secret}),
        )  # fmt: skip


@pytest.mark.db
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_mysql_writer_refuses_non_finite_floats_and_keeps_the_target(mysql_db: str, tmp_path: Path, bad: float) -> None:
    """MariaDB has no NaN/inf: LOAD DATA used to store 0.0 silently; now the write fails and changes nothing."""
    pair = DriverPair(
        "mysql", MySQLWriter, MySQLExtractor, "mysql", "mysql", lambda name: {}, lambda name: {"table": name},
        tmp_path, connection={**MY_CONN, "database": mysql_db},
    )  # fmt: skip
    good = pa.table({"id": pa.array([1], pa.int64()), "f": pa.array([1.5])})
    pair.write(good, "nan_probe")
    with pytest.raises(StepError, match="NaN or infinity"):
        pair.write(pa.table({"id": pa.array([2], pa.int64()), "f": pa.array([bad])}), "nan_probe")
    assert pair.read("nan_probe", good.schema).to_pylist() == [{"id": 1, "f": 1.5}]


@pytest.mark.db
def test_mysql_drops_the_sign_of_zero_and_nothing_else(mysql_db: str, tmp_path: Path) -> None:
    """Regression (found by the round-trip property): MariaDB stores -0.0 as 0; the stated loss is exactly that."""
    pair = DriverPair(
        "mysql", MySQLWriter, MySQLExtractor, "mysql", "mysql", lambda name: {}, lambda name: {"table": name},
        tmp_path, connection={**MY_CONN, "database": mysql_db},
    )  # fmt: skip
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "f": pa.array([-0.0, -1.5])})
    pair.write(table, "zero_probe")
    back = pair.read("zero_probe", table.schema)
    assert back.to_pylist() == [{"id": 1, "f": 0.0}, {"id": 2, "f": -1.5}]
    assert math.copysign(1.0, back.column("f")[0].as_py()) == 1.0
    assert canonical(EXPECTED["mysql"](table)) == canonical(back)
