"""osiris.dialects.exact and the drivers that use it, without servers: wide integers, text forms of DuckDB types,
plain decimal text, hex bytes in CSV, duplicate column names (issue #12)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris.components.duckdb_extractor.driver import Driver as Extractor
from osiris.components.duckdb_processor.driver import Driver as Processor
from osiris.components.filesystem_csv_writer.driver import Driver as CsvWriter
from osiris.dialects import dialect
from osiris.dialects.exact import decimal_text, duckdb_loadable
from osiris.runtime.driver import StepContext, StepError

WIDE = [2**127 - 1, -(2**127), 2**128 - 1, 2**127, 0, None]


def _extract(tmp_path: Path, query: str, batch_size: int = 2) -> pa.Table:
    config = {"path": "src.duckdb", "query": query, "batch_size": batch_size}
    return Extractor({"config": config}, StepContext("e", config, None, tmp_path, tmp_path)).run({}).read_all()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
        con.execute("CREATE TABLE w (id INT, h HUGEINT, u UHUGEINT)")
        rows = [(i, v if v is None or -(2**127) <= v < 2**127 else None, v if v is None or v >= 0 else None)
                for i, v in enumerate(WIDE)]  # fmt: skip
        con.executemany("INSERT INTO w VALUES (?, ?::HUGEINT, ?::UHUGEINT)", [(i, h, u) for i, h, u in rows])
    return tmp_path


def test_hugeint_and_uhugeint_come_out_exact(src: Path) -> None:
    """Was decimal128(38, 0): UHUGEINT max read as -1, 2**127 as -2**127."""
    table = _extract(src, "SELECT h, u FROM w ORDER BY id")
    assert table.schema.types == [pa.decimal256(39, 0), pa.decimal256(39, 0)]
    got = [(r["h"], r["u"]) for r in table.to_pylist()]
    want: list[tuple[Decimal | None, Decimal | None]] = [(Decimal(2**127 - 1), Decimal(2**127 - 1))]
    want += [(Decimal(-(2**127)), None)]
    want += [(None, Decimal(2**128 - 1)), (None, Decimal(2**127)), (Decimal(0), Decimal(0)), (None, None)]
    assert got == want


def test_planned_types_match_what_duckdb_gives(src: Path) -> None:
    """Build time (DuckDB DESCRIBE -> logical) and run time (Arrow -> logical) agree on every converted type."""
    query = (
        "SELECT h, u, INTERVAL 1 DAY AS iv, [1] AS l, {'a': 1} AS s, MAP {'k': 1} AS m, '12:00:00+02'::TIMETZ AS tz,"
        " '101'::BIT AS bits, 12::BIGNUM AS big FROM w LIMIT 1"
    )
    table = _extract(src, query)
    with duckdb.connect(str(src / "src.duckdb"), read_only=True) as con:
        described = {r[0]: dialect("duckdb").to_logical(r[1]) for r in con.execute("DESCRIBE " + query).fetchall()}
    assert described == {
        "h": "decimal(39,0)",
        "u": "decimal(39,0)",
        "iv": "string",
        "l": "json",
        "s": "json",
        "m": "json",
        "tz": "string",
        "bits": "string",
        "big": "string",
    }
    row = table.to_pylist()[0]
    assert [str(t) for t in table.schema.types[2:]] == ["string"] * 7
    assert (row["iv"], row["l"], row["s"], row["m"]) == ("1 day", "[1]", '{"a":1}', '{"k":1}')
    assert (row["tz"], row["bits"], row["big"]) == ("12:00:00+02", "101", "12")  # was 12:00 (offset dropped)


def test_processor_output_and_wide_inputs(tmp_path: Path) -> None:
    """The processor reads decimal256 inputs (MariaDB DECIMAL(65,30), HUGEINT) as the plan's DOUBLE / HUGEINT."""
    wide = pa.array(["12345678901234567890123456789012345.123456789012345678901234567890", "-1E-30", None])
    table = pa.table({"d": wide.cast(pa.decimal256(65, 30)), "h": pa.array(["1", str(2**127 - 1), None])})
    table = table.set_column(1, "h", table.column("h").cast(pa.decimal256(39, 0)))
    config = {"query": "SELECT typeof(d) AS td, d, typeof(h) AS th, h, h * 1 AS u FROM input_df"}
    ctx = StepContext("p", config, None, tmp_path, tmp_path)
    out = Processor({"config": config}, ctx).run({"input_df": table.to_reader()}).read_all()
    assert out.column("td").to_pylist() == ["DOUBLE"] * 3 and out.column("th").to_pylist() == ["HUGEINT"] * 3
    assert out.column("d").to_pylist() == [1.2345678901234568e34, -1e-30, None]
    assert out.column("h").to_pylist() == [Decimal(1), Decimal(2**127 - 1), None]
    too_big = pa.table({"h": pa.array([str(2**128 - 1)]).cast(pa.decimal256(39, 0))})
    config = {"query": "SELECT h FROM input_df"}
    ctx = StepContext("p", config, None, tmp_path, tmp_path)
    with pytest.raises(StepError, match=r"column 'h': value 340282366920938463463374607431768211455 is outside"):
        Processor({"config": config}, ctx).run({"input_df": too_big.to_reader()}).read_all()


@pytest.mark.parametrize("query", ["SELECT id, id FROM w", "SELECT id, ID FROM w", "SELECT 1 AS a, 2 AS a"])
def test_duplicate_output_names_are_refused(src: Path, query: str) -> None:
    with pytest.raises(StepError, match=r"the query returns the column .* twice"):
        _extract(src, query)
    config = {"query": query.replace("FROM w", "FROM input_df")}
    ctx = StepContext("p", config, None, src, src)
    with pytest.raises(StepError, match=r"the query returns the column .* twice"):
        Processor({"config": config}, ctx).run({"input_df": pa.table({"id": [1]}).to_reader()})


decimals = st.integers(1, 76).flatmap(
    lambda p: st.tuples(st.just(p), st.integers(0, p), st.integers(-(10**p) + 1, 10**p - 1))
)


@given(decimals)
def test_decimal_text_is_plain_and_exact(case: tuple[int, int, int]) -> None:
    precision, scale, unscaled = case
    value = Decimal((int(unscaled < 0), tuple(map(int, str(abs(unscaled)))), -scale))
    typ = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    zero = Decimal((0, (0,), -scale))
    arr = pa.array([value, None, zero], typ)
    text = decimal_text(arr).to_pylist()
    assert text == [format(value, "f"), None, format(zero, "f")]
    assert "E" not in text[0] and Decimal(text[0]) == value


def test_decimal_text_of_a_slice() -> None:
    arr = pa.array([Decimal("1.00000001"), Decimal("-0.00000001"), None], pa.decimal128(10, 8))
    assert decimal_text(arr.slice(1)).to_pylist() == ["-0.00000001", None]
    negative_scale = pa.array([Decimal("12300"), Decimal("-100")], pa.decimal128(5, -2))  # Arrow: 1.23E+4, -1E+2
    assert decimal_text(negative_scale).to_pylist() == ["12300", "-100"]


def test_duckdb_loadable_range_check_names_column_and_value() -> None:
    batch = pa.record_batch({"x": pa.array([str(-(2**127) - 1)]).cast(pa.decimal256(39, 0))})
    with pytest.raises(ValueError, match=rf"column 'x': value {-(2**127) - 1} is outside DuckDB HUGEINT"):
        duckdb_loadable(batch, ["HUGEINT"])
    assert duckdb_loadable(batch, ["DOUBLE"]).column(0).to_pylist() == [str(-(2**127) - 1)]


def _write_csv(tmp_path: Path, table: pa.Table, **cfg: Any) -> str:
    config = {"path": "out.csv", **cfg}
    ctx = StepContext("w", config, None, tmp_path, tmp_path)
    CsvWriter({"config": config}, ctx).run(
        {"input_df": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(2))}
    )
    return (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_csv_decimals_plain_and_bytes_hex(tmp_path: Path) -> None:
    table = pa.table(
        {
            "z": pa.array([Decimal(0), Decimal("-1E-30"), None, Decimal("5")], pa.decimal128(38, 30)),
            "e": pa.array([Decimal("-1E-10"), None, Decimal("0"), Decimal("1")], pa.decimal256(40, 10)),
            "n": pa.array([Decimal("1.5"), None, Decimal("0"), Decimal("-2")], pa.decimal128(5, 2)),
            "b": pa.array([b'\xff\x00\n\r"', b"", None, b"a"]),
        }
    )
    text = _write_csv(tmp_path, table)
    rows = list(csv.reader(text.splitlines()))
    assert rows[1] == ["0." + "0" * 30, "-0.0000000001", "1.50", "ff000a0d22"]
    assert rows[2] == ["-0." + "0" * 29 + "1", "", "", ""]
    assert text.splitlines()[3] == ',"0.0000000000",0.00,'  # NULL stays an empty unquoted field
    assert rows[4] == ["5." + "0" * 30, "1.0000000000", "-2.00", "61"]


def test_csv_duplicate_names_are_refused(tmp_path: Path) -> None:
    """Was a KeyError (a traceback) from the writer's column lookup."""
    dup = pa.table([pa.array([1]), pa.array([2])], names=["id", "id"])
    with pytest.raises(StepError, match="more than one column named 'id'"):
        _write_csv(tmp_path, dup)
    assert not (tmp_path / "out.csv").exists()


def test_nanoseconds_exact_or_refused(tmp_path: Path) -> None:
    """TIMESTAMP_NS is planned as `timestamp` (microseconds): exact values come out in microseconds, a value with
    nanoseconds fails the step naming column and value (was timestamp[ns], truncated by some targets); TIME_NS
    comes out as its text (planned `string`)."""
    with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
        con.execute(
            "CREATE TABLE n AS SELECT * FROM (VALUES (1, '2024-01-01 12:00:00.123456'::TIMESTAMP_NS,"
            " '12:00:00.123456789'::TIME_NS), (2, NULL, NULL), (3, '1969-12-31 23:59:59.999999123'::TIMESTAMP_NS,"
            " NULL)) t(id, ts, tm)"
        )
    table = _extract(tmp_path, "SELECT ts, tm FROM n WHERE id < 3 ORDER BY id", batch_size=1)
    assert table.schema.types == [pa.timestamp("us"), pa.string()]
    assert table.column("tm").to_pylist() == ["12:00:00.123456789", None]
    assert table.column("ts").cast(pa.int64()).to_pylist() == [1704110400123456, None]
    with duckdb.connect() as con:
        assert dialect("duckdb").to_logical(con.sql("SELECT '1:00'::TIME_NS").types[0].id.upper()) == "string"
    with pytest.raises(StepError, match=r"column 'ts': value 1969-12-31 23:59:59.999999123 does not fit"):
        _extract(tmp_path, "SELECT ts FROM n ORDER BY id")
