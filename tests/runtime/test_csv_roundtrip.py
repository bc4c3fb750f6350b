"""CSV writer -> CSV extractor round trips, compared exactly (values and types).

Convention (both drivers): NULL is an empty unquoted field, the empty string is ``""``; every other text,
including ``NULL``, tabs, newlines and backslashes, is data.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris.components.filesystem_csv_extractor.driver import Driver as Extractor
from osiris.components.filesystem_csv_writer.driver import Driver as Writer
from osiris.dialects.types import from_arrow
from osiris.runtime.driver import StepContext, StepError

TRICKY = [
    "plain",
    "",
    None,
    "NULL",
    "null",
    "a\tb",
    "line\nbreak",
    "cr\r\nlf",
    "back\\slash",
    'q"uote',
    "a,b",
    "😀 4-byte 𝄞",
    "  spaced  ",
    "N/A",
]


def _ctx(tmp_path: Path, config: dict[str, Any]) -> StepContext:
    return StepContext(step_id="s", config=config, connection=None, run_dir=tmp_path, base_dir=tmp_path)


def _schema_entry(schema: pa.Schema) -> dict[str, Any]:
    return {"columns": [{"name": f.name, "type": from_arrow(f.type), "nullable": True} for f in schema]}


def roundtrip(
    tmp_path: Path,
    table: pa.Table,
    writer_cfg: dict[str, Any] | None = None,
    reader_cfg: dict[str, Any] | None = None,
    typed: bool = True,
) -> pa.Table:
    wcfg = {"path": "out/data.csv", **(writer_cfg or {})}
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=3))
    Writer({"config": wcfg}, _ctx(tmp_path, wcfg)).run({"input_df": reader})
    rcfg = {
        "path": wcfg["path"],
        **{k: v for k, v in wcfg.items() if k in ("delimiter", "encoding", "compression")},
        **(reader_cfg or {}),
    }
    step = {"config": rcfg, "schema": _schema_entry(table.schema) if typed else None}
    return Extractor(step, _ctx(tmp_path, rcfg)).run({}).read_all()


def _table() -> pa.Table:
    n = len(TRICKY)
    return pa.table(
        {
            "s": pa.array(TRICKY, pa.string()),
            "i": pa.array([-(2**63), 2**63 - 1, None, 0, -1, 1, 42, *range(n - 7)], pa.int64()),
            "d": pa.array(
                [
                    decimal.Decimal("-12345678901234567890.0123456789"),
                    None,
                    decimal.Decimal("0.0000000001"),
                    *[decimal.Decimal(k) for k in range(n - 3)],
                ],
                pa.decimal128(38, 10),
            ),
            "day": pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), None, *[dt.date(2024, 2, 29)] * (n - 3)]),
            "ts": pa.array(
                [dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None, *[dt.datetime(1970, 1, 1)] * (n - 2)],
                pa.timestamp("us"),
            ),
            "b": pa.array([True, False, None, *[True] * (n - 3)]),
            "f": pa.array([1.5, -0.0, None, 1e300, *[2.25] * (n - 4)], pa.float64()),
        }
    )


def test_exact_round_trip_of_tricky_values(tmp_path: Path) -> None:
    table = _table()
    back = roundtrip(tmp_path, table)
    assert back.schema == table.schema
    assert back.to_pylist() == table.to_pylist()
    text = (tmp_path / "out" / "data.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == '"s","i","d","day","ts","b","f"'
    assert '\n"",' in text and "\n,," in text  # '' is quoted, NULL is empty


def test_empty_table_round_trip(tmp_path: Path) -> None:
    table = _table().slice(0, 0)
    back = roundtrip(tmp_path, table)
    assert back.num_rows == 0 and back.schema == table.schema
    assert (tmp_path / "out" / "data.csv").read_text() == '"s","i","d","day","ts","b","f"\n'


@pytest.mark.parametrize(
    "cfg",
    [
        {"delimiter": "\t"},
        {"delimiter": ";", "newline": "crlf"},
        {"quoting": "all"},
        {"path": "out/data.csv.gz"},
        {"path": "out/data.csv.zst", "compression": "infer"},
        {"path": "out/data.csv.bz2"},
        {"encoding": "utf-16"},
    ],
)
def test_round_trip_options(tmp_path: Path, cfg: dict[str, Any]) -> None:
    table = _table()
    assert roundtrip(tmp_path, table, cfg).to_pylist() == table.to_pylist()


def test_gzip_really_compressed_and_crlf(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2]})
    roundtrip(tmp_path, table, {"path": "x.csv.gz", "newline": "crlf"})
    assert gzip.decompress((tmp_path / "x.csv.gz").read_bytes()) == b'"a"\r\n1\r\n2\r\n'


def test_latin1_and_column_order(tmp_path: Path) -> None:
    table = pa.table({"a": ["é", "ß"], "b": [1, 2]})
    back = roundtrip(tmp_path, table, {"encoding": "latin-1", "columns": ["b", "a"]}, typed=False)
    assert (tmp_path / "out" / "data.csv").read_bytes() == b'"b","a"\n1,"\xe9"\n2,"\xdf"\n'
    assert back.column_names == ["b", "a"] and back.to_pylist() == [{"b": 1, "a": "é"}, {"b": 2, "a": "ß"}]


def test_reader_options(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("junk line\nid|name|x\n1|a|-\n2||3\n3|c|4\n")
    cfg = {"path": "in.csv", "delimiter": "|", "skip_rows": 1, "columns": ["id", "x"], "na_values": ["-"], "limit": 2}
    out = Extractor({"config": cfg}, _ctx(tmp_path, cfg)).run({}).read_all()
    assert out.to_pylist() == [{"id": 1, "x": None}, {"id": 2, "x": 3}]
    (tmp_path / "nohead.csv").write_text("1,a\n2,b\n")
    cfg = {"path": "nohead.csv", "header": False}
    assert Extractor({"config": cfg}, _ctx(tmp_path, cfg)).run({}).read_all().column_names == ["column0", "column1"]


def test_missing_file_and_bad_value_are_step_errors(tmp_path: Path) -> None:
    cfg = {"path": "nope.csv"}
    with pytest.raises(StepError, match=r"CSV file 'nope\.csv' does not exist"):
        Extractor({"config": cfg}, _ctx(tmp_path, cfg)).run({})
    (tmp_path / "bad.csv").write_text("id\n1\nx\n")
    cfg = {"path": "bad.csv"}
    step = {"config": cfg, "schema": {"columns": [{"name": "id", "type": "int64"}]}}
    with pytest.raises(StepError, match=r"bad\.csv"):
        Extractor(step, _ctx(tmp_path, cfg)).run({}).read_all()


def test_failed_write_leaves_previous_file(tmp_path: Path) -> None:
    (tmp_path / "keep.csv").write_text("old\n")

    def gen():  # type: ignore[no-untyped-def]
        yield pa.record_batch({"a": [1]})
        raise RuntimeError("upstream died")

    schema = pa.schema([("a", pa.int64())])
    cfg = {"path": "keep.csv"}
    with pytest.raises(RuntimeError, match="upstream died"):
        Writer({"config": cfg}, _ctx(tmp_path, cfg)).run({"input_df": pa.RecordBatchReader.from_batches(schema, gen())})
    assert (tmp_path / "keep.csv").read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)


@given(st.lists(st.one_of(st.none(), _text), min_size=1, max_size=15))
def test_any_text_round_trips(tmp_path_factory: pytest.TempPathFactory, values: list[str | None]) -> None:
    tmp = tmp_path_factory.mktemp("h")
    table = pa.table({"s": pa.array(values, pa.string()), "k": pa.array(range(len(values)), pa.int64())})
    assert roundtrip(tmp, table).column("s").to_pylist() == values


def test_one_column_nulls_are_blank_lines(tmp_path: Path) -> None:
    """In a one-column file a NULL row is a blank line: read such files with ``skip_blank_lines: false``."""
    table = pa.table({"s": pa.array(["a", None, ""], pa.string())})
    assert roundtrip(tmp_path, table, reader_cfg={"skip_blank_lines": False}).to_pylist() == table.to_pylist()
