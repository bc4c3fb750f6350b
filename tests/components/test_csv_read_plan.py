"""The CSV extractor reads exactly what the compiler planned (issue #12): dialect, header names and types.

Each case is compiled with ``osirisc build`` (DuckDB sniffs the file), then the plan's step is run by the driver;
the output must equal the plan's schema and the values the file was generated from. Files are 200k rows with
awkward quoted text (CR, LF, lone CR, tabs, backslashes, quotes, 'NULL', \\N, emoji), over 10 read blocks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris.cli import main
from osiris.components.filesystem_csv_extractor import rules
from osiris.components.filesystem_csv_extractor.driver import Driver
from osiris.components.filesystem_csv_extractor.reading import CommentFilter
from osiris.dialects.types import to_arrow
from osiris.runtime.driver import StepContext, StepError

ROWS = 200_000
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"
TEXTS = [
    "plain",
    "line\nbreak",
    "cr\r\nlf",
    "lone\rcr",
    "tab\there",
    "back\\slash",
    'q"uote "twice"',
    "NULL",
    "\\N",
    "😀 emoji 𝄞",
    "a;b,c\td",
    "",
    None,
    "  spaced  ",
    "#not a comment",
]
PAD = " lorem ipsum dolor sit amet, consectetur"


def _text(i: int) -> str | None:
    t = TEXTS[i % len(TEXTS)]
    return t if t in (None, "") else f"{t} {i}{PAD}"


def _field(value: str | None) -> str:
    """NULL is an empty unquoted field; every text is quoted (so '' is the empty string)."""
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def _date(i: int) -> dt.date:
    return dt.date(1990 + i % 30, 1 + i % 12, 1 + i % 28)


# name -> (header cells, delimiter, file text of v for row i, python value of v, planned type, planned names)
Case = tuple[list[str], str, Callable[[int], str], Callable[[int], Any], str, list[str]]
CASES: dict[str, Case] = {
    "semicolon": (["id", "v", "text"], ";", lambda i: str(i * 3), lambda i: i * 3, "int64", ["id", "v", "text"]),
    "tab": (["id", "v", "text"], "\t", lambda i: str(i / 4), lambda i: i / 4, "float64", ["id", "v", "text"]),
    "dd/mm/yyyy": (
        ["id", "v", "text"],
        ",",
        lambda i: _date(i).strftime("%d/%m/%Y"),
        _date,
        "date",
        ["id", "v", "text"],
    ),
    "t/f": (["id", "v", "text"], ",", lambda i: "tf"[i % 2], lambda i: i % 2 == 0, "bool", ["id", "v", "text"]),
    "yes/no": (
        ["id", "v", "text"],
        ",",
        lambda i: ("yes", "no")[i % 2],
        lambda i: i % 2 == 0,
        "bool",
        ["id", "v", "text"],
    ),
    "empty header name": (["id", "", "text"], ",", str, int, "int64", ["id", "column1", "text"]),
    "id and ID": (["id", "ID", "text"], ",", str, int, "int64", ["id", "ID_1", "text"]),
    "leading space": (["id", " v", "text"], ",", lambda i: f" {i}", int, "int64", ["id", "v", "text"]),
}


def _write_case(path: Path, case: Case) -> None:
    header, delim, text_of, _, _, _ = case
    lines = [delim.join(header)]
    lines += [delim.join((str(i), text_of(i), _field(_text(i)))) for i in range(ROWS)]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def _pipeline(folder: Path, csv_name: str, config: str = "") -> Path:
    src = folder / "p.yaml"
    src.write_text(
        'oml_version: "0.1.0"\nname: csv-plan\nsteps:\n  - id: read\n    component: filesystem.csv_extractor\n'
        f"    mode: read\n    config:\n      path: {csv_name}\n{config}"
        "  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    config:\n      path: out.csv\n",
        encoding="utf-8",
    )
    return src


def build_step(folder: Path, csv_name: str, config: str = "") -> dict[str, Any]:
    """Compile a read -> write pipeline over ``csv_name``; the plan's read step."""
    out = folder / "build"
    assert main(["build", str(_pipeline(folder, csv_name, config)), "-o", str(out)]) == 0
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    step: dict[str, Any] = plan["steps"][0]
    assert step["id"] == "read" and step["schema"] is not None
    return step


def run_step(folder: Path, step: dict[str, Any]) -> pa.Table:
    ctx = StepContext(step_id="read", config=step["config"], connection=None, run_dir=folder, base_dir=folder)
    return Driver(step, ctx).run({}).read_all()


def planned_schema(step: dict[str, Any]) -> pa.Schema:
    return pa.schema([(c["name"], to_arrow(c["type"])) for c in step["schema"]["columns"]])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_run_reads_the_planned_dialect_names_and_types(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    _, _, _, value_of, type_, names = case
    _write_case(tmp_path / "in.csv", case)
    assert (tmp_path / "in.csv").stat().st_size > 10 * rules.BLOCK_SIZE
    step = build_step(tmp_path, "in.csv")
    assert [(c["name"], c["type"]) for c in step["schema"]["columns"]] == list(
        zip(names, ["int64", type_, "string"], strict=True)
    )
    table = run_step(tmp_path, step)
    assert table.schema == planned_schema(step)
    expected = pa.table(
        [
            pa.array(range(ROWS), pa.int64()),
            pa.array([value_of(i) for i in range(ROWS)], to_arrow(type_)),
            pa.array([_text(i) for i in range(ROWS)], pa.string()),
        ],
        names=names,
    )
    assert table.equals(expected)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "utf-16"])
@pytest.mark.parametrize("planned", [True, False])
def test_crlf_inside_quotes_across_a_block_boundary_keeps_its_lf(tmp_path: Path, planned: bool, encoding: str) -> None:
    """pyarrow drops the LF of a quoted CRLF whose CR ends a read block; the reader never lets a block end in CR
    (other encodings are decoded before pyarrow, whose transcoding would cut blocks anew)."""
    head = 'id,text\n0,"'
    first = "x" * (rules.BLOCK_SIZE - 1 - len(head)) + "\r\nafter"
    rows = [first, *(f"r\r\n{i}" for i in range(1, 50_000))]
    data = head + first + '"\n' + "".join(f'{i},"{t}"\n' for i, t in enumerate(rows) if i)
    assert data.encode()[rules.BLOCK_SIZE - 1 : rules.BLOCK_SIZE + 1] == b"\r\n"
    (tmp_path / "in.csv").write_bytes(data.encode(encoding))
    if planned:
        table = run_step(tmp_path, build_step(tmp_path, "in.csv", f"      encoding: {encoding}\n"))
    else:
        cfg = {"path": "in.csv", "encoding": encoding}
        ctx = StepContext(step_id="read", config=cfg, connection=None, run_dir=tmp_path, base_dir=tmp_path)
        table = Driver({"config": cfg}, ctx).run({}).read_all()
    assert table.column("text").to_pylist() == rows


@pytest.mark.slow
def test_header_changed_after_build_fails_naming_the_difference(tmp_path: Path) -> None:
    case = CASES["semicolon"]
    _write_case(tmp_path / "in.csv", case)
    step = build_step(tmp_path, "in.csv")
    _write_case(tmp_path / "in.csv", (["id", "V", "text"], case[1], case[2], case[3], case[4], case[5]))
    with pytest.raises(StepError, match=r"another header than at build time: column 2 is 'V' \(planned 'v'\)"):
        run_step(tmp_path, step)
    (tmp_path / "in.csv").write_text("id;v;text;extra\n1;2;x;y\n", encoding="utf-8")
    with pytest.raises(StepError, match=r"4 columns \(planned 3\); new 'extra'"):
        run_step(tmp_path, step)


@pytest.mark.slow
def test_value_that_does_not_parse_as_planned_fails_with_row_column_and_value(tmp_path: Path) -> None:
    lines = ["id,v,text"] + [f"{i},{i},{_field(_text(i))}" for i in range(ROWS)]
    lines[150_001] = '150000,oops,"x"'
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    step = build_step(tmp_path, "in.csv")
    assert step["schema"]["columns"][1]["type"] == "int64"
    with pytest.raises(StepError, match=r"'in.csv' row 150001, column 'v': value 'oops' does not read as int64"):
        run_step(tmp_path, step)


def test_explicit_config_wins_over_the_sniff(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("a;b,c\n1;2,3\n4;5,6\n", encoding="utf-8")
    step = build_step(tmp_path, "in.csv", '      delimiter: ";"\n      dtype: {a: string}\n')
    assert [(c["name"], c["type"]) for c in step["schema"]["columns"]] == [("a", "string"), ("b,c", "string")]
    assert run_step(tmp_path, step).to_pylist() == [{"a": "1", "b,c": "2,3"}, {"a": "4", "b,c": "5,6"}]


def test_parse_dates_false_keeps_dates_as_text_and_a_list_picks_columns(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("d,e\n2024-01-02,2024-03-04\n", encoding="utf-8")
    step = build_step(tmp_path, "in.csv", "      parse_dates: false\n")
    assert run_step(tmp_path, step).to_pylist() == [{"d": "2024-01-02", "e": "2024-03-04"}]
    step = build_step(tmp_path, "in.csv", "      parse_dates: [e]\n")
    assert run_step(tmp_path, step).to_pylist() == [{"d": "2024-01-02", "e": dt.date(2024, 3, 4)}]


@pytest.mark.slow
def test_comment_lines_are_skipped_but_not_inside_quoted_fields(tmp_path: Path) -> None:
    lines = ["# leading comment", "id,text"]
    expected = []
    for i in range(ROWS):
        if i % 997 == 0:
            lines.append(f"#comment {i},with,commas")
        if i % 7 == 3:  # a quote inside an unquoted field is data and opens nothing
            text = f'12" pipe {i}'
            lines.append(f"{i},{text}")
        else:
            text = f"line\n#{i} inside quotes" if i % 5 == 0 else _text(i)
            lines.append(f"{i},{_field(text)}")
        expected.append({"id": i, "text": text})
    data = "\r\n".join(lines) + "\r\n#trailing comment"
    (tmp_path / "in.csv").write_bytes(data.encode("utf-8"))
    assert (tmp_path / "in.csv").stat().st_size > 5 * rules.BLOCK_SIZE
    step = build_step(tmp_path, "in.csv", '      comment: "#"\n')
    assert [c["type"] for c in step["schema"]["columns"]] == ["int64", "string"]
    assert run_step(tmp_path, step).to_pylist() == expected


def _without_comments(data: bytes) -> bytes:
    """Byte-by-byte reference of the reader's quoting: a quote opens a field only at its start, a doubled quote
    inside is data; a line that starts with '#' outside quotes goes, with its line end."""
    out, i, n = bytearray(), 0, len(data)
    in_quotes, field_start, line_start = False, True, True
    while i < n:
        ch = data[i : i + 1]
        if in_quotes:
            if ch == b'"' and data[i + 1 : i + 2] == b'"':
                out += b'""'
                i += 2
                continue
            in_quotes = ch != b'"'
            field_start = line_start = False
        elif line_start and ch == b"#":
            while i < n and data[i : i + 1] not in (b"\n", b"\r"):
                i += 1
            i += 2 if data[i : i + 2] == b"\r\n" else 1
            continue
        elif field_start and ch == b'"':
            in_quotes, field_start, line_start = True, False, False
        else:
            line_start = ch in (b"\n", b"\r")
            field_start = line_start or ch == b","
        out += ch
        i += 1
    return bytes(out)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b",", b'"', b'""', b"\n", b"\r", b"\r\n", b"#"]), max_size=80),
    st.integers(1, 9),
)
def test_comment_filter_follows_the_quoting_in_any_chunking(parts: list[bytes], size: int) -> None:
    data = b"".join(parts)
    keep = CommentFilter("#", '"', ",")
    assert b"".join(keep(data[k : k + size]) for k in range(0, len(data), size)) == _without_comments(data)


def test_na_values_gzip_and_limit_are_honoured_as_planned(tmp_path: Path) -> None:
    import gzip

    with gzip.open(tmp_path / "in.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write("id,v\n" + "".join(f"{i},{'-' if i % 3 == 0 else i}\n" for i in range(1000)))
    step = build_step(tmp_path, "in.csv.gz", "      na_values: ['-']\n      limit: 4\n")
    assert [c["type"] for c in step["schema"]["columns"]] == ["int64", "int64"]
    assert run_step(tmp_path, step).to_pylist() == [
        {"id": 0, "v": None},
        {"id": 1, "v": 1},
        {"id": 2, "v": 2},
        {"id": 3, "v": None},
    ]


def test_a_dtype_the_file_cannot_hold_is_refused_at_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.csv").write_text("id,v\n1,2\n2,2.5\n", encoding="utf-8")
    src = _pipeline(tmp_path, "in.csv", "      dtype: {v: int64}\n")
    assert main(["check", str(src)]) == 2
    err = capsys.readouterr().err
    assert "OSR-E212" in err and "row 2, column 'v': value '2.5' does not read as int64" in err


def test_names_follow_the_same_rule_when_the_file_appears_only_at_run_time(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,ID, v,\n1,2,3,4\n", encoding="utf-8")
    cfg = {"path": "in.csv"}
    ctx = StepContext(step_id="read", config=cfg, connection=None, run_dir=tmp_path, base_dir=tmp_path)
    table = Driver({"config": cfg}, ctx).run({}).read_all()
    assert table.column_names == rules.names(["id", "ID", " v", ""]) == ["id", "ID_1", "v", "column3"]


def test_a_relative_path_under_a_connection_is_not_planned_from_the_pipeline_folder(tmp_path: Path) -> None:
    """The connection's base_dir is known only at run time: sniffing the pipeline's folder would plan another
    file."""
    (tmp_path / "in.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    src = _pipeline(tmp_path, "in.csv", '      connection: "@filesystem.local"\n')
    assert main(["build", str(src), "-o", str(tmp_path / "build")]) == 0
    step = json.loads((tmp_path / "build" / "plan.json").read_text(encoding="utf-8"))["steps"][0]
    assert step["schema"] is None and "read_plan" not in step["config"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.csv")), ids=lambda p: p.name)
def test_plan_schema_equals_run_schema_for_every_example_file(tmp_path: Path, path: Path) -> None:
    (tmp_path / path.name).write_bytes(path.read_bytes())
    step = build_step(tmp_path, path.name)
    table = run_step(tmp_path, step)
    assert table.schema == planned_schema(step)
    # the values are DuckDB's own reading of the file, in the planned types
    with duckdb.connect() as con:
        oracle = con.sql(
            "SELECT * FROM read_csv($p, allow_quoted_nulls = false)", params={"p": str(path)}
        ).to_arrow_table()
    assert table.num_rows > 0
    assert table.equals(oracle.cast(table.schema))


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_a_header_only_file_reads_as_no_rows_whether_or_not_it_ends_with_a_newline(tmp_path: Path, ending: str) -> None:
    """pyarrow finds no column in a lone header without its newline; the reader supplies the newline."""
    (tmp_path / "in.csv").write_bytes(f"id,name,amount{ending}".encode())
    step = build_step(tmp_path, "in.csv")
    assert [c["name"] for c in step["schema"]["columns"]] == ["id", "name", "amount"]
    table = run_step(tmp_path, step)
    assert table.num_rows == 0 and table.schema.names == ["id", "name", "amount"]
    first_line_end = ending or "\n"
    (tmp_path / "in.csv").write_bytes(f"id,name,amount{first_line_end}1,a,2.5{ending}".encode())
    assert run_step(tmp_path, build_step(tmp_path, "in.csv")).to_pylist() == [{"id": 1, "name": "a", "amount": 2.5}]


def _rows_with_a_bare_cr(at: int, rows: int) -> bytes:
    """``rows`` data rows of awkward quoted text (multi-line values count as one record), and at data row ``at``
    (1-based) an unquoted value holding a bare CR, which ends the record early."""
    lines = ["id,name,text"]
    for i in range(1, rows + 1):
        name = "na\rme" if i == at else f"name{i}"
        lines.append(f"{i},{name},{_field(_text(i))}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_bare_cr_in_an_unquoted_value_in_the_first_block_is_an_error_at_check_naming_its_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB cannot sniff the file (it was OSR-W202 'cannot sniff', then a run failing without a row number)."""
    (tmp_path / "in.csv").write_bytes(_rows_with_a_bare_cr(at=4_000, rows=8_000))
    assert main(["check", str(_pipeline(tmp_path, "in.csv"))]) == 2
    err = capsys.readouterr().err
    assert "error[OSR-E212]: cannot read 'in.csv': record 4,001 has 2 fields where the header has 3" in err
    assert "a line break (LF, CR or CRLF) or the delimiter inside a value must be quoted" in err


def test_a_bare_cr_past_the_checked_sample_fails_the_run_naming_its_record(tmp_path: Path) -> None:
    """Past the first read block the check cannot see it; the run fails naming the record (counted with multi-line
    quoted values as one record each), found by parsing again on one thread after the error."""
    (tmp_path / "in.csv").write_bytes(_rows_with_a_bare_cr(at=60_000, rows=80_000))
    step = build_step(tmp_path, "in.csv")
    with pytest.raises(StepError, match=r"record 60,001 has 2 fields where the header has 3 \('60000,na'\)"):
        run_step(tmp_path, step)
