"""The mysql.extractor CLI read path (mariadb client -> pyarrow CSV): hex decoding of binary columns, unescaping of
text columns (a property test against the client's escaping), exact values for every column kind, fallback when
the client is missing, the child process ending with the reader, errors."""

from __future__ import annotations

import datetime as dt
import gc
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pymysql
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris.components.mysql_extractor.driver import Driver as MySQLExtractor
from osiris.runtime.connectors import mysql, mysqlcli
from osiris.runtime.driver import StepContext, StepError

MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
needs_client = pytest.mark.skipif(mysqlcli.client_binary() is None, reason="no mariadb/mysql client on PATH")


@given(st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=30), st.integers(0, 5))
def test_unhex_round_trip(values: list[bytes | None], start: int) -> None:
    hexed = pa.array([None if v is None else v.hex().upper() for v in values], pa.string())
    sliced = hexed.slice(min(start, len(values)))
    assert mysqlcli.unhex(sliced).to_pylist() == values[min(start, len(values)) :]


@pytest.mark.parametrize("bad", ["ABC", "0G", "zz"])
def test_unhex_refuses_non_hex(bad: str) -> None:
    with pytest.raises(ValueError):
        mysqlcli.unhex(pa.array(["00", bad], pa.string()))


def test_client_override_switches_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSIRIS_MYSQL_CLIENT", "")
    assert mysqlcli.client_binary() is None
    assert mysql.default_path() in ("mysqlclient", "pymysql")
    monkeypatch.setenv("OSIRIS_MYSQL_CLIENT", "no-such-mysql-client-binary")
    assert mysqlcli.client_binary() is None


def _ctx(config: dict[str, Any], db: str, tmp_path: Path, events: list[Any] | None = None) -> StepContext:
    sink = events if events is not None else []
    return StepContext("s", config, {**MY, "database": db}, tmp_path, tmp_path, event=lambda k, d: sink.append(d))


@pytest.fixture
def odd_db(mysql_db: str) -> str:
    conn = pymysql.connect(**MY, database=mysql_db, autocommit=True, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE t (id INT PRIMARY KEY, l VARCHAR(10) CHARACTER SET latin1, b1 BIT(1), b10 BIT(10),"
            " j TEXT, y YEAR, e ENUM('a','NULL'), u BIGINT UNSIGNED, s VARCHAR(20), vb VARBINARY(8))"
        )
        cur.executemany(
            "INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (1, "caf\u00e9\t", 1, 1023, '{"k": "\\n"}', 2024, "NULL", 18446744073709551615, "NULL", b"\x00\\N"),
                (2, "", 0, 0, "[]", 1901, "a", 0, "\\N\t\n\\", b""),
                (3, None, None, None, None, None, None, None, None, None),
            ],
        )
    conn.close()
    return mysql_db


@needs_client
@pytest.mark.db
def test_cli_path_exact_for_hex_and_plain_columns(odd_db: str, tmp_path: Path) -> None:
    events: list[Any] = []
    driver = MySQLExtractor({}, _ctx({"table": "t", "batch_size": 1}, odd_db, tmp_path, events))
    driver.path = "cli"
    table = driver.run({}).read_all()
    assert any("read path: cli" in e.get("message", "") for e in events)
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    assert [r["l"] for r in rows] == ["caf\u00e9\t", "", None]
    assert [r["b1"] for r in rows] == [True, False, None]
    assert [r["b10"] for r in rows] == [1023, 0, None]
    assert json.loads(rows[0]["j"]) == {"k": "\n"} and rows[2]["j"] is None
    assert [r["y"] for r in rows] == [2024, 1901, None]
    assert [r["e"] for r in rows] == ["NULL", "a", None]
    assert [r["u"] for r in rows] == [18446744073709551615, 0, None]
    assert [r["s"] for r in rows] == ["NULL", "\\N\t\n\\", None]
    assert [r["vb"] for r in rows] == [b"\x00\\N", b"", None]
    assert table.schema.field("u").type == pa.uint64() and table.schema.field("vb").type == pa.binary()
    pymysql_driver = MySQLExtractor({}, _ctx({"table": "t"}, odd_db, tmp_path))
    pymysql_driver.path = "pymysql"
    assert sorted(pymysql_driver.run({}).read_all().to_pylist(), key=lambda r: r["id"]) == rows


@needs_client
@pytest.mark.db
def test_cli_path_query_zero_dates_and_fallback(odd_db: str, tmp_path: Path) -> None:
    events: list[Any] = []
    conn = pymysql.connect(**MY, database=odd_db, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE z (d DATE, x DECIMAL(5,2)) ")
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO z VALUES ('0000-00-00', 1.50), ('2024-02-29', NULL)")
    conn.close()
    c = _ctx({"query": "SELECT d, x FROM z"}, odd_db, tmp_path, events)
    driver = MySQLExtractor({}, c)
    driver.path = "cli"
    got = driver.run({}).read_all().to_pylist()
    assert sorted(got, key=str) == sorted(
        [{"d": None, "x": Decimal("1.50")}, {"d": dt.date(2024, 2, 29), "x": None}], key=str
    )
    assert any("read path: cli" in e.get("message", "") for e in events)
    assert any("zero date" in e.get("message", "") for e in events)
    reader = mysql.Reader({**MY, "database": odd_db}, "SHOW TABLES", 10, path="cli")
    schema = reader.open()  # SHOW cannot be wrapped in a SELECT: the reader takes a driver path instead
    assert reader.path in ("mysqlclient", "pymysql")
    assert sorted(tuple(r.values()) for b in reader.batches(schema) for r in b.to_pylist()) == [("t",), ("z",)]


@needs_client
@pytest.mark.db
def test_cli_process_ends_with_abandoned_reader(odd_db: str) -> None:
    reader = mysql.Reader({**MY, "database": odd_db}, "SELECT * FROM seq_1_to_2000000", 1000, path="cli")
    schema = reader.open()
    assert reader._cli is not None
    proc = reader._cli.proc
    batches = reader.batches(schema)
    assert next(batches).num_rows > 0
    del batches
    gc.collect()
    assert proc.poll() is not None


@needs_client
def test_cli_error_is_a_step_error_without_the_password(tmp_path: Path) -> None:
    secret = "wrong-pw-7f3a9"
    stream = mysqlcli.CliStream(mysqlcli.client_binary() or "", {**MY, "password": secret}, "SELECT 1", 1 << 20)
    try:
        with pytest.raises(StepError) as err:
            list(stream.batches(pa.schema([("a", pa.int64())]), ["plain"], lambda t, f, k: t))
    finally:
        stream.close()
    assert "Access denied" in str(err.value) and secret not in str(err.value)


@pytest.mark.db
@pytest.mark.parametrize("bulk", [True, False])
def test_mysql_writer_load_data_and_inserts_exact(odd_db: str, tmp_path: Path, bulk: bool) -> None:
    from osiris import dialects
    from osiris.components.mysql_writer.driver import Driver as MySQLWriter

    source = MySQLExtractor({}, _ctx({"table": "t"}, odd_db, tmp_path)).run({}).read_all()
    extra = pa.table({"ts": pa.array([0, None, 1_700_000_000_123_456], pa.timestamp("us", tz="UTC"))})
    table = source.append_column("ts", extra.column("ts"))
    cols = dialects.columns_from_arrow(table.schema)
    plan = dialects.plan_write("mysql", {"schema": odd_db, "table": f"c_{bulk}"}, "append", cols)
    writer = MySQLWriter({"write": plan}, _ctx({}, odd_db, tmp_path))
    writer.bulk = bulk
    writer.run({"in": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))})
    back = MySQLExtractor({}, _ctx({"query": f"SELECT * FROM c_{bulk} ORDER BY id"}, odd_db, tmp_path)).run({})
    got = back.read_all()
    want = table.sort_by("id")
    for name in ("id", "l", "j", "e", "u", "s", "vb"):
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
    assert [bool(v) if v is not None else None for v in got.column("b1").to_pylist()] == [True, False, None]
    assert got.column("b10").to_pylist() == [1023, 0, None]
    assert [None if v is None else v.replace(tzinfo=None) for v in got.column("ts").to_pylist()] == [
        None if v is None else v.replace(tzinfo=None) for v in want.column("ts").to_pylist()
    ]


@pytest.mark.db
def test_ordered_query_and_failing_client_take_a_driver_path(
    odd_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[Any] = []
    driver = MySQLExtractor({}, _ctx({"query": "SELECT id FROM t ORDER BY id DESC"}, odd_db, tmp_path, events))
    driver.path = "cli"
    assert driver.run({}).read_all().column("id").to_pylist() == [3, 2, 1]  # a derived table would drop the order
    assert any("read path: pymysql" in e["message"] or "read path: mysqlclient" in e["message"] for e in events)
    monkeypatch.setenv("OSIRIS_MYSQL_CLIENT", "false")  # exits with status 1 before any output
    reader = mysql.Reader({**MY, "database": odd_db}, "SELECT id FROM t", 10, path="cli")
    schema = reader.open()
    assert reader.path in ("mysqlclient", "pymysql")
    assert sorted(v for b in reader.batches(schema) for v in b.column(0).to_pylist()) == [1, 2, 3]


@needs_client
@pytest.mark.db
def test_wide_columns_fit_a_block_or_take_a_driver_path(mysql_db: str, tmp_path: Path) -> None:
    conn = pymysql.connect(**MY, database=mysql_db, autocommit=True, charset="utf8mb4")
    wide = "\u00e9\t" * 20_000  # 60,000 bytes, 120 kB as hex: ten of them span several CSV blocks
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE w (id INT, t TEXT)")
        cur.execute("CREATE TABLE l (id INT, m MEDIUMTEXT, js JSON)")
        cur.executemany("INSERT INTO w VALUES (%s, %s)", [(i, wide if i % 2 else None) for i in range(12)])
        cur.execute("INSERT INTO l VALUES (1, %s, %s)", ("x" * 3_000_000, '{"a": [1, "NULL"]}'))
    conn.close()
    events: list[Any] = []
    driver = MySQLExtractor({}, _ctx({"table": "w"}, mysql_db, tmp_path, events))
    driver.path = "cli"
    got = driver.run({}).read_all().column("t").to_pylist()
    assert got == [wide if i % 2 else None for i in range(12)]
    assert any("read path: cli" in e.get("message", "") for e in events)
    events.clear()
    driver = MySQLExtractor({}, _ctx({"table": "l"}, mysql_db, tmp_path, events))
    driver.path = "cli"  # MEDIUMTEXT/JSON rows may not fit a CSV block: a driver path reads them
    assert driver.run({}).read_all().to_pylist() == [{"id": 1, "m": "x" * 3_000_000, "js": '{"a": [1, "NULL"]}'}]
    assert not any("read path: cli" in e.get("message", "") for e in events)


@needs_client
@pytest.mark.db
def test_cli_text_encoding_round_trips_escape_heavy_strings(mysql_db: str, tmp_path: Path) -> None:
    alphabet = ["\\", "\t", "\n", "\r", "\0", "r", "t", "n", "0", "N", "U", "L", "=", "\u00e9", "\U0001f600", " "]
    rng = random.Random(7)
    values: list[str | None] = ["", "NULL", "\\N", "=", "\\\\r", "\\r", "\r\n", "\\\r", None, "\\" * 7 + "r"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(2000)]
    conn = pymysql.connect(**MY, database=mysql_db, autocommit=True, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE x (id INT PRIMARY KEY, v VARCHAR(64), w VARCHAR(64) CHARACTER SET latin1)")
        latin = [None if v is None else v.encode("latin1", "replace").decode("latin1") for v in values]
        cur.executemany("INSERT INTO x VALUES (%s, %s, %s)", list(zip(range(len(values)), values, latin, strict=True)))
    conn.close()
    events: list[Any] = []
    driver = MySQLExtractor({}, _ctx({"table": "x", "batch_size": 100}, mysql_db, tmp_path, events))
    driver.path = "cli"
    got = driver.run({}).read_all().sort_by("id")
    assert any("read path: cli" in e.get("message", "") for e in events)
    assert got.column("v").to_pylist() == values
    assert got.column("w").to_pylist() == latin


def _client_batch_output(rows: list[tuple[str | None, ...]]) -> bytes:
    """What ``mariadb --batch`` prints for text values (safe_put_field): NUL, tab, newline and backslash escaped,
    everything else (carriage returns included) verbatim, NULL as the bare word; a text column with its
    ``IS NULL`` indicator, as the wrapped query selects it."""
    table = str.maketrans({"\0": "\\0", "\t": "\\t", "\n": "\\n", "\\": "\\\\"})
    lines = []
    for row in rows:
        fields = [f for v in row for f in ("NULL" if v is None else v.translate(table), "1" if v is None else "0")]
        lines.append("\t".join(fields))
    return ("\n".join(lines) + "\n").encode() if rows else b""


@given(
    st.lists(
        st.tuples(*[st.one_of(st.none(), st.text(st.sampled_from("\\\t\n\r\0NUL0rnt x\u00e9"), max_size=8))] * 2),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 64),
)
def test_text_decoding_inverts_the_client_escaping(rows: list[tuple[str | None, ...]], read_size: int) -> None:
    class Trickle:
        """A pipe that hands out a few bytes per read, so escapes and CRs straddle reads."""

        def __init__(self, data: bytes):
            self.data = data

        def read(self, size: int = -1) -> bytes:
            size = min(read_size, len(self.data)) if size < 0 else min(size, read_size)
            chunk, self.data = self.data[:size], self.data[size:]
            return chunk

    escaper = mysqlcli.CrEscaper(Trickle(_client_batch_output(rows)))  # type: ignore[arg-type]
    data = b"".join(iter(lambda: escaper.read(5), b""))
    names = ["a", "a_null", "b", "b_null"]
    parsed = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), null_values=["NULL"], strings_can_be_null=True
        ),
    )
    for i, name in enumerate(("a", "b")):
        got = mysqlcli.text_column(parsed.column(name).combine_chunks(), pc.equal(parsed.column(f"{name}_null"), "1"))
        assert got.to_pylist() == [row[i] for row in rows]


_PIECES = ["\\\\", "\\t", "\\n", "\\0", "\\r", "\\x", "a", "é", "😀", "n", "t", "0", " ", "NULL"]


@given(
    st.lists(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join), min_size=1, max_size=40),
    st.integers(0, 3),
)
def test_vectorised_unescape_is_the_per_value_one(values: list[str], skip: int) -> None:
    """``unescape`` (numpy over the whole buffer) undoes the client's escapes exactly like the per-value regex:
    runs of backslashes, escapes at value starts and ends, multi-byte text, a sliced array."""
    arr = pa.array(values, pa.string()).slice(min(skip, len(values) - 1))
    assert mysqlcli.unescape(arr).to_pylist() == [mysqlcli._unescape_value(v) for v in arr.to_pylist()]
