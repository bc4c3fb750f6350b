"""The pure parts of osiris/runtime/incremental.py: marks round-trip through their JSON form, lookbacks move them in
the cursor's units, literals are quoted per dialect (no way out of a string literal), and the client-side filter of
CSV sources keeps exactly the rows of the range. The database paths are in tests/components/test_incremental.py."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from osiris.runtime import incremental
from osiris.runtime.driver import StepError

UTC = dt.UTC


@pytest.mark.parametrize(
    "value",
    [
        7,
        2.5,
        decimal.Decimal("12.340"),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 1, 12, 0, 0, 123456),
        dt.datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
        "it's \\ text",
    ],
)
def test_marks_round_trip(value: Any) -> None:
    mark = incremental.to_json(value)
    back = incremental.from_json(mark)
    assert back == value and type(back) is type(value)


def test_a_boolean_is_no_mark() -> None:
    with pytest.raises(StepError, match="not orderable"):
        incremental.to_json(True)


def test_lookback_in_the_cursors_units() -> None:
    t = dt.datetime(2024, 1, 1, 12, 0)
    assert incremental.minus(t, "15m") == dt.datetime(2024, 1, 1, 11, 45)
    assert incremental.minus(t, 90) == dt.datetime(2024, 1, 1, 11, 58, 30)
    assert incremental.minus(t, "2 hours") == dt.datetime(2024, 1, 1, 10, 0)
    assert incremental.minus(dt.date(2024, 3, 1), 1) == dt.date(2024, 2, 29)
    assert incremental.minus(dt.date(2024, 3, 1), "36h") == dt.date(2024, 2, 28)  # rounded up to whole days
    assert incremental.minus(100, 10) == 90
    assert incremental.minus(decimal.Decimal("1.5"), 0.5) == decimal.Decimal("1.0")
    assert incremental.minus("abc", 0) == "abc"
    with pytest.raises(StepError, match="text cursor"):
        incremental.minus("abc", 5)
    with pytest.raises(StepError, match="duration"):
        incremental.minus(100, "5m")
    with pytest.raises(StepError, match="not a number or a duration"):
        incremental.minus(t, "soon")


def test_literals_cannot_leave_their_quotes() -> None:
    nasty = "x' OR '1'='1 \\' --"
    assert incremental.literal("postgres", nasty) == "'x'' OR ''1''=''1 \\'' --'"
    assert incremental.literal("mysql", nasty) == "'x'' OR ''1''=''1 \\\\'' --'"
    assert incremental.literal("duckdb", dt.date(2024, 1, 2)) == "DATE '2024-01-02'"
    zoned = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert incremental.literal("postgres", zoned) == "TIMESTAMPTZ '2024-01-01 12:00:00+02:00'"
    assert incremental.literal("mysql", zoned) == "TIMESTAMP '2024-01-01 10:00:00'"  # UTC wall-clock time
    assert incremental.quote_ident("mysql", "a`b") == "`a``b`"
    assert incremental.quote_ident("postgres", 'a"b') == '"a""b"'


def cursor(config: dict[str, Any], mark: Any = None) -> incremental.Cursor:
    c = incremental.Cursor("p", "s", config, incremental.FileStore(Path("x.csv")), loaded=True)
    if mark is not None:
        c.mark, c.version = incremental.to_json(mark), 1
    return c


def test_predicates_of_first_and_later_runs() -> None:
    config = {"cursor_column": "ts", "initial_value": "2024-01-01", "end_value": "2024-02-01", "lookback": "1h"}
    assert cursor(config).wrap_sql("postgres", "SELECT 1") == (
        'SELECT * FROM (SELECT 1) AS _osirisc_src WHERE "ts" >= \'2024-01-01\' AND "ts" < \'2024-02-01\' ORDER BY "ts"'
    )
    later = cursor({**config, "tie_breaker": ["id", "ts"]}, dt.datetime(2024, 1, 5, 10, 0))
    assert later.predicate("mysql") == "`ts` > TIMESTAMP '2024-01-05 09:00:00' AND `ts` < '2024-02-01'"
    assert later.order_by("mysql") == "`ts`, `id`"
    assert cursor({"cursor_column": "n"}).predicate("duckdb") is None
    assert "%%" in cursor({"cursor_column": "n", "initial_value": "5%"}).wrap_sql("postgres", "q", percent=True)


def test_a_state_that_could_not_be_read_fails_the_extractor() -> None:
    c = cursor({"cursor_column": "n"})
    c.load_error = "cannot read the incremental state from x: refused"
    with pytest.raises(StepError, match="refused"):
        c.predicate("postgres")


def test_csv_filter_keeps_exactly_the_range_and_tracks_the_mark() -> None:
    ts = [dt.datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3, 4, 5)]
    batch = pa.record_batch({"n": [1, 2, None, 4, 5], "ts": pa.array(ts, pa.timestamp("us", "UTC"))})
    first = cursor({"cursor_column": "ts", "initial_value": "2024-01-02", "end_value": "2024-01-05T00:00:00+00:00"})
    assert first.filter_batch(batch).column("n").to_pylist() == [2, None, 4]
    later = cursor({"cursor_column": "n"}, 2)
    assert later.filter_batch(batch).column("n").to_pylist() == [4, 5]  # a NULL cursor is never past a mark
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch, batch.slice(0, 2)])
    events: list[tuple[str, Any]] = []
    from osiris.runtime.driver import StepContext

    ctx = StepContext("s", {}, None, Path(), Path(), event=lambda k, d: events.append((k, d)))
    tracked = later.track(ctx, later.filter_reader(reader), query=None)
    assert sum(b.num_rows for b in tracked) == 2
    assert later.done.is_set() and later.rows == 2
    assert later.new_mark(ctx) == {"type": "int", "value": "5"}
    assert [k for k, _ in events] == ["incremental", "incremental_read"]


def test_an_empty_run_keeps_the_mark_and_a_missing_cursor_column_fails() -> None:
    from osiris.runtime.driver import StepContext

    ctx = StepContext("s", {}, None, Path(), Path())
    c = cursor({"cursor_column": "n"}, 9)
    empty = pa.RecordBatchReader.from_batches(pa.schema([("n", pa.int64())]), [])
    list(c.track(ctx, empty, query="q"))
    assert c.new_mark(ctx) == {"type": "int", "value": "9"}
    other = cursor({"cursor_column": "missing"})
    with pytest.raises(StepError, match="no cursor column 'missing'"):
        other.track(ctx, empty, query="q")
    with pytest.raises(StepError, match="nothing committed"):
        other.new_mark(ctx)
