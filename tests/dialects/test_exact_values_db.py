"""Issue #12, types and values: every value exact in every target, or the run refused with the column and value.

Whole pipelines (`osirisc run`) from DuckDB (a duckdb.extractor over a file: plan completed at run time; a
duckdb.processor: plan made at build time) into CSV, DuckDB, PostgreSQL and MariaDB on the real servers, with
values DuckDB exports wrongly or in forms no target took (HUGEINT/UHUGEINT, INTERVAL, LIST/STRUCT), decimals
Arrow writes in E notation, and MariaDB's DECIMAL(65,30) and binary. Expected values come from DuckDB itself.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest

from osiris.cli import main

pytestmark = pytest.mark.db

ROWS = 3000  # three read batches of the extractor (batch_size 1000)
HUGE_MAX, UHUGE_MAX = 2**127 - 1, 2**128 - 1
VALUES_SQL = f"""
SELECT i AS id,
  CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN {HUGE_MAX}::HUGEINT WHEN 2 THEN (-{HUGE_MAX} - 1)::HUGEINT
    ELSE i::HUGEINT * 1000000000000000000000000000000 END AS h,
  CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN {UHUGE_MAX}::UHUGEINT WHEN 2 THEN {2**127}::UHUGEINT
    ELSE i::UHUGEINT END AS u,
  CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN 18446744073709551615::UBIGINT ELSE 9223372036854775807::UBIGINT + i::UBIGINT
    END AS ub,
  to_months(i % 30) + to_days(i % 7) + to_microseconds(i * 1000003)
    - CASE WHEN i % 2 = 0 THEN INTERVAL 1 YEAR ELSE INTERVAL 0 DAY END AS iv,
  CASE WHEN i % 6 = 0 THEN NULL ELSE [i, NULL, -i] END AS l,
  {{'t': 'q"b\\' || chr(10) || chr(13) || chr(9) || 'NULL \\N 😀 ' || i, 'n': NULL, 'f': i / 4}} AS s,
  CASE i % 4 WHEN 0 THEN 0 WHEN 1 THEN -0.000000000000000000000000000001
    WHEN 2 THEN 12345678.123456789012345678901234567890 ELSE i / 1e9 END::DECIMAL(38,30) AS z,
  (-i / 1e10)::DECIMAL(20,10) AS e
FROM @SOURCE@
"""
RANGE = f"range(1, {ROWS + 1}) t(i)"
NAMES = ["id", "h", "u", "ub", "iv", "l", "s", "z", "e"]


def _expected(columns: list[str]) -> list[tuple[Any, ...]]:
    """The rows as DuckDB gives them: wide integers and intervals as text, nested values as parsed JSON."""
    sql = VALUES_SQL.replace("@SOURCE@", RANGE)
    text = {"h", "u", "ub", "iv"}
    exprs = [
        f"CAST({c} AS VARCHAR)" if c in text else f"CAST(to_json({c}) AS VARCHAR)" if c in "ls" else c for c in columns
    ]
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT {', '.join(exprs)} FROM ({sql}) ORDER BY id").fetchall()
    return [_norm(columns, r) for r in rows]


def _norm(columns: list[str], row: Any) -> tuple[Any, ...]:
    out: list[Any] = []
    for c, v in zip(columns, row, strict=True):
        if v is None or v == "":
            out.append(None)
        elif c in ("h", "u", "ub"):
            out.append(str(int(v)))
        elif c in ("l", "s"):
            out.append(json.loads(v))
        elif c in ("z", "e"):
            out.append(Decimal(v))
        else:
            out.append(int(v) if c == "id" else v)
    return tuple(out)


def _pipeline(tmp_path: Path, source: str, writer: str, config: str, query_columns: str = "*") -> Path:
    """A pipeline from ``source`` (extractor | processor) into one writer; the connections file beside it."""
    if source == "extractor":
        with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
            con.execute("CREATE TABLE src AS " + VALUES_SQL.replace("@SOURCE@", RANGE))
        read = f"""  - id: read
    component: duckdb.extractor
    mode: read
    config: {{path: src.duckdb, batch_size: 1000, query: "SELECT {query_columns} FROM src ORDER BY id"}}
"""
    else:
        (tmp_path / "ids.csv").write_text("i\n" + "".join(f"{i}\n" for i in range(1, ROWS + 1)), encoding="utf-8")
        sql = VALUES_SQL.replace("@SOURCE@", "input_df").replace("\n", " ")
        sql = f"SELECT {query_columns} FROM ({sql}) ORDER BY id"
        read = f"""  - id: ids
    component: filesystem.csv_extractor
    mode: read
    config: {{path: ids.csv}}
  - id: read
    component: duckdb.processor
    mode: transform
    needs: [ids]
    config:
      query: {json.dumps(sql, ensure_ascii=False)}
"""
    text = f"""oml_version: "0.1.0"
name: exact-{source}
steps:
{read}  - id: write
    component: {writer}
    mode: write
    needs: [read]
    config: {config}
"""
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _connections(tmp_path: Path, mysql_db: str = "test") -> None:
    (tmp_path / "osiris_connections.yaml").write_text(
        f"""connections:
  mysql:
    db: {{host: 127.0.0.1, port: 3306, database: {mysql_db}, user: root, password: ""}}
  postgres:
    wh: {{host: 127.0.0.1, port: 5432, database: test, user: postgres, password: ""}}
""",
        encoding="utf-8",
    )


def _run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", str(path), "--runs-dir", str(path.parent / "runs")])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


SOURCES = ["extractor", "processor"]


@pytest.mark.parametrize("source", SOURCES)
def test_csv_holds_every_value_exactly(tmp_path: Path, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _pipeline(tmp_path, source, "filesystem.csv_writer", "{path: out.csv}")
    code, out = _run(path, capsys)
    assert code == 0, out
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == NAMES
    got = [_norm(NAMES, r) for r in rows[1:]]
    assert got == _expected(NAMES)
    # decimals in plain notation: 0 at scale 30 is thirty zeros, -1E-10 is -0.0000000001
    z, e = [r[7] for r in rows[1:]], [r[8] for r in rows[1:]]
    assert z[3] == "0." + "0" * 30 and z[0] == "-0." + "0" * 29 + "1" and e[0] == "-0.0000000001"
    assert not any("E" in v for v in z + e)
    assert {r[2] for r in rows[1:]} >= {str(UHUGE_MAX), str(2**127)}


@pytest.mark.parametrize("source", SOURCES)
def test_postgres_holds_every_value_exactly(
    tmp_path: Path, source: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _connections(tmp_path)
    config = f'{{connection: "@postgres.wh", schema: {pg_schema}, table: vals, create_if_missing: true}}'
    code, out = _run(_pipeline(tmp_path, source, "postgres.writer", config), capsys)
    assert code == 0, out
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="test") as conn:
        types: dict[str, str] = dict(
            conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0",
                (f'"{pg_schema}"."vals"',),
            ).fetchall()
        )
        rows = conn.execute(
            f'SELECT id, h::text, u::text, ub::text, iv, l::text, s::text, z, e FROM "{pg_schema}".vals ORDER BY id'
        ).fetchall()
    assert types["h"] == types["u"] == "numeric(39,0)" and types["ub"] == "numeric(20,0)"
    # JSON text: typed json when the plan is made at build time; read as Arrow text when the plan is made at run
    # time (Arrow has no JSON type the writers take), so TEXT then
    nested = "jsonb" if source == "processor" else "text"
    assert (types["iv"], types["l"], types["s"]) == ("text", nested, nested)
    assert [_norm(NAMES, r) for r in rows] == _expected(NAMES)


@pytest.mark.parametrize("source", SOURCES)
def test_mariadb_holds_every_value_exactly(
    tmp_path: Path, source: str, mysql_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _connections(tmp_path, mysql_db)
    config = '{connection: "@mysql.db", table: vals, create_if_missing: true}'
    code, out = _run(_pipeline(tmp_path, source, "mysql.writer", config), capsys)
    assert code == 0, out
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=mysql_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, h, u, ub, iv, l, s, z, e FROM vals ORDER BY id")
            rows = cur.fetchall()
            cur.execute("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_NAME = 'vals'")
            types = dict(cur.fetchall())
    finally:
        conn.close()
    assert types["h"] == types["u"] == "decimal(39,0)"  # was decimal(38,0): HUGEINT max clamped to 38 nines
    got = [_norm(NAMES, r) for r in rows]
    assert got == _expected(NAMES)


@pytest.mark.parametrize("source", SOURCES)
def test_duckdb_holds_every_value_exactly(tmp_path: Path, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    columns = [c for c in NAMES if c != "u"]
    path = _pipeline(tmp_path, source, "duckdb.writer", "{path: out.duckdb, table: vals}", ", ".join(columns))
    code, out = _run(path, capsys)
    assert code == 0, out
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns").fetchall())
        rows = con.sql(f"SELECT {', '.join(columns)} FROM vals ORDER BY id").fetchall()
    assert types["h"] == "HUGEINT" and types["ub"] == "UBIGINT"  # h was DECIMAL(38,0) holding 39 digits
    assert [_norm(columns, r) for r in rows] == _expected(columns)


@pytest.mark.parametrize("source", SOURCES)
def test_duckdb_refuses_uhugeint_beyond_hugeint_naming_column_and_value(
    tmp_path: Path, source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB has no column type for both HUGEINT and UHUGEINT values: the plan says HUGEINT (what SUM of
    integers gives) and a UHUGEINT above its range fails the run, naming column and value; the target untouched."""
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        con.execute("CREATE TABLE vals (id BIGINT, u HUGEINT)")
        con.execute("INSERT INTO vals VALUES (0, 7)")
    path = _pipeline(tmp_path, source, "duckdb.writer", "{path: out.duckdb, table: vals}", "id, u")
    if source == "processor":
        code, out = _check(path, capsys)
        assert code == 0, out
    code, out = _run(path, capsys)
    assert code != 0
    assert f"column 'u': value {UHUGE_MAX} is outside DuckDB HUGEINT" in out, out
    assert "Traceback" not in out
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        assert con.sql("SELECT * FROM vals").fetchall() == [(0, 7)]


def test_check_plans_the_types_the_run_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The processor's plan (build time) is what the run does: INTERVAL -> TEXT, LIST/STRUCT -> JSONB, wide
    integers -> NUMERIC(39,0) (were: TEXT/JSONB that failed at run with Arrow errors, NUMERIC(38,0))."""
    _connections(tmp_path)
    config = '{connection: "@postgres.wh", schema: s, table: vals, create_if_missing: true}'
    path = _pipeline(tmp_path, "processor", "postgres.writer", config)
    code = main(["build", str(path), "-o", str(tmp_path / "build")])
    capsys.readouterr()
    assert code == 0
    plan = json.loads((tmp_path / "build" / "plan.json").read_text(encoding="utf-8"))
    write = next(s["write"] for s in plan["steps"] if s["id"] == "write")
    types = {c["name"]: c["type"] for c in write["columns"]}
    assert types == {
        "id": "int64",
        "h": "decimal(39,0)",
        "u": "decimal(39,0)",
        "ub": "uint64",
        "iv": "string",
        "l": "json",
        "s": "json",
        "z": "decimal(38,30)",
        "e": "decimal(20,10)",
    }


MARIADB_ROWS = 2500


@pytest.fixture
def wide_decimals(mysql_db: str) -> str:
    """A MariaDB table with DECIMAL(65,30) at full precision, tiny values, zero, and binary incl. invalid UTF-8."""
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=mysql_db, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE wide (id INT PRIMARY KEY, d DECIMAL(65,30), b VARBINARY(20))")
        cur.execute(
            "INSERT INTO wide SELECT seq, CASE seq % 4 WHEN 0 THEN 0 WHEN 1 THEN -0.000000000000000000000000000001"
            " WHEN 2 THEN 12345678901234567890123456789012345.123456789012345678901234567890 ELSE seq / 7 END,"
            " CASE seq % 3 WHEN 0 THEN NULL WHEN 1 THEN 0xFF00C30A0D5C ELSE '' END"
            f" FROM seq_1_to_{MARIADB_ROWS}"
        )
        cur.execute("SELECT id, d, b FROM wide ORDER BY id")
        rows = cur.fetchall()
    conn.close()
    assert len(rows) == MARIADB_ROWS
    return mysql_db


def _mariadb_rows(db: str) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, d, b FROM wide ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def _mariadb_pipeline(tmp_path: Path, db: str, writer: str, config: str) -> Path:
    _connections(tmp_path, db)
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        f"""oml_version: "0.1.0"
name: wide-decimals
steps:
  - id: read
    component: mysql.extractor
    mode: read
    config: {{connection: "@mysql.db", query: "SELECT id, d, b FROM wide ORDER BY id"}}
  - id: write
    component: {writer}
    mode: write
    needs: [read]
    config: {config}
""",
        encoding="utf-8",
    )
    return path


def test_mariadb_wide_decimal_and_binary_to_csv(
    tmp_path: Path, wide_decimals: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """DECIMAL(65,30) in plain notation (was 0E-30) and binary as hex (was 'Invalid UTF8 payload', no column)."""
    code, out = _run(_mariadb_pipeline(tmp_path, wide_decimals, "filesystem.csv_writer", "{path: out.csv}"), capsys)
    assert code == 0, out
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "d", "b"]
    want = [[str(i), format(d, "f"), "" if b is None else b.hex()] for i, d, b in _mariadb_rows(wide_decimals)]
    assert rows[1:] == want
    assert rows[4][1] == "0." + "0" * 30 and rows[1][1] == "-0." + "0" * 29 + "1" and rows[1][2] == "ff00c30a0d5c"


def test_mariadb_wide_decimal_to_duckdb_is_the_planned_double(
    tmp_path: Path, wide_decimals: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """DECIMAL(65,30) -> DuckDB: the plan says DOUBLE (warned, DuckDB DECIMAL stops at 38 digits) and the run
    stores each value as the nearest double (was an Arrow error: DuckDB cannot read decimal256)."""
    config = "{path: out.duckdb, table: wide}"
    code, out = _run(_mariadb_pipeline(tmp_path, wide_decimals, "duckdb.writer", config), capsys)
    assert code == 0, out
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns").fetchall())
        rows = con.sql("SELECT id, d, b FROM wide ORDER BY id").fetchall()
    assert types["d"] == "DOUBLE"
    assert rows == [(i, None if d is None else float(d), b) for i, d, b in _mariadb_rows(wide_decimals)]


def test_duplicate_column_names_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`SELECT id, id`: refused by check where the schema is known, a clear run error where it is not (was a
    KeyError)."""
    with duckdb.connect(str(tmp_path / "src.duckdb")) as con:
        con.execute("CREATE TABLE src AS SELECT range AS id FROM range(3)")
    (tmp_path / "ids.csv").write_text("i\n1\n2\n", encoding="utf-8")
    pipe = tmp_path / "pipeline.yaml"
    pipe.write_text(
        """oml_version: "0.1.0"
name: dup
steps:
  - id: ids
    component: filesystem.csv_extractor
    mode: read
    config: {path: ids.csv}
  - id: both
    component: duckdb.processor
    mode: transform
    needs: [ids]
    config: {query: "SELECT i, i FROM input_df"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [both]
    config: {path: out.csv}
""",
        encoding="utf-8",
    )
    code, out = _check(pipe, capsys)
    assert code == 2 and "OSR-E202" in out and "column 'i' appears twice" in out, out
    assert "its input 'both' returns two columns of that name" in out
    pipe.write_text(
        """oml_version: "0.1.0"
name: dup
steps:
  - id: read
    component: duckdb.extractor
    mode: read
    config: {path: src.duckdb, query: "SELECT id, id FROM src"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [read]
    config: {path: out.csv}
""",
        encoding="utf-8",
    )
    code, out = _run(pipe, capsys)
    assert code == 1, out
    assert "the query returns the column 'id' twice" in out and "Traceback" not in out and "KeyError" not in out
    assert not (tmp_path / "out.csv").exists()
