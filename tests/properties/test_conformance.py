"""The conformance suite (osiris.testing.conformance) run on the built-in writer/extractor pairs.

CSV and DuckDB run on files under tmp_path; PostgreSQL and MariaDB on the real servers (fresh schema / database per
test). Lossy pairs are checked against exactly the loss docs/types.md states (``conformance.EXPECTED``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osiris.components.duckdb_extractor.driver import Driver as DuckDBExtractor
from osiris.components.duckdb_writer.driver import Driver as DuckDBWriter
from osiris.components.filesystem_csv_extractor.driver import Driver as CSVExtractor
from osiris.components.filesystem_csv_writer.driver import Driver as CSVWriter
from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.components.mysql_writer.driver import Driver as MySQLWriter
from osiris.components.postgres_extractor.driver import Driver as PGExtractor
from osiris.components.postgres_writer.driver import Driver as PGWriter
from osiris.testing.conformance import EXPECTED, ConformanceSuite, DriverPair

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
