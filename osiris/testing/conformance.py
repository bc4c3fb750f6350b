"""Conformance suite for a writer/extractor pair of component drivers (docs/testing.md).

A component package describes its pair with a ``DriverPair`` and subclasses ``ConformanceSuite`` in a test module,
providing the ``pair`` fixture; pytest then runs, against the real drivers (``StepContext`` + the write plan from
``osiris.dialects.plan_write``, exactly as the runtime does):

- round trip: a generated table (``osiris.testing.tables``) written then extracted comes back as
  ``pair.expected(table)`` - the table itself for a lossless pair, the documented loss otherwise (docs/types.md);
- replace: a second write replaces the rows; upsert: rows with a known key are updated, the others kept/added;
- failure: a write whose input fails midway raises and leaves the target exactly as it was;
- secrets: an error from a failing write and read never contains the connection's secret.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris import dialects
from osiris.runtime.driver import StepContext
from osiris.testing.secrets import leaks, secret_values
from osiris.testing.tables import arrow_tables, canonical, tables_like

_DEFAULT = settings.default.max_examples if settings.default is not None else 100
_FEW = 15 if _DEFAULT <= 100 else _DEFAULT // 10  # DB round trips are slow: a tenth of the profile's examples
_SUITE = settings(
    max_examples=_FEW,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,  # one base-class method per subclass (pair): intended
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


class InputFailed(RuntimeError):
    """Raised by the suite's input stream after its first batch (an upstream failing mid-write)."""


def identity(table: pa.Table) -> pa.Table:
    return table


@attrs.define
class DriverPair:
    """A writer and the extractor that reads back what it wrote.

    ``writer_config(name)`` / ``extractor_config(name)`` give the step configs for table ``name``; ``dialect`` is
    the plan dialect (``postgres``, ``mysql``, ``duckdb`` or ``csv``); ``tables`` the ``arrow_tables`` target;
    ``expected`` maps a written table to what the extractor must return (the documented loss); ``failing(secret)``
    gives ``(config overrides, connection)`` for a write and read that fail while the connection holds ``secret``.
    """

    name: str
    writer: type
    extractor: type
    dialect: str
    tables: str
    writer_config: Callable[[str], dict[str, Any]]
    extractor_config: Callable[[str], dict[str, Any]]
    base_dir: Path
    connection: Mapping[str, Any] | None = None
    schema: str | None = None
    modes: tuple[str, ...] = ("append", "replace", "upsert", "truncate")
    expected: Callable[[pa.Table], pa.Table] = identity
    failing: Callable[[str], tuple[dict[str, Any], Mapping[str, Any] | None]] | None = None
    _count: Iterator[int] = attrs.field(factory=itertools.count, init=False)

    def fresh_name(self) -> str:
        return f"conf{next(self._count)}_{uuid.uuid4().hex[:8]}"

    def write(
        self,
        table: pa.Table | pa.RecordBatchReader,
        name: str,
        mode: str = "append",
        primary_key: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        connection: Mapping[str, Any] | None = None,
    ) -> None:
        reader = table if isinstance(table, pa.RecordBatchReader) else _reader(table)
        cfg = {**self.writer_config(name), **(config or {})}
        step: dict[str, Any] = {"id": "w", "config": cfg}
        if self.dialect != "csv":
            columns = dialects.columns_from_arrow(reader.schema)
            target = {"schema": self.schema, "table": name}
            step["write"] = dialects.plan_write(self.dialect, target, mode, columns, primary_key)
        ctx = StepContext("w", cfg, connection or self.connection, self.base_dir, self.base_dir, batch_size=4)
        self.writer(step, ctx).run({"input_df": reader})

    def read(
        self, name: str, schema: pa.Schema, *, config: Mapping[str, Any] | None = None, connection: Any = None
    ) -> pa.Table:
        cfg = {**self.extractor_config(name), **(config or {})}
        step = {"id": "r", "config": cfg, "schema": {"columns": dialects.columns_from_arrow(schema)}}
        ctx = StepContext("r", cfg, connection or self.connection, self.base_dir, self.base_dir, batch_size=4)
        table: pa.Table = self.extractor(step, ctx).run({}).read_all()
        return table


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=4))


def _failing_reader(table: pa.Table) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        yield from table.slice(0, 1).to_batches()
        raise InputFailed("upstream failed")

    return pa.RecordBatchReader.from_batches(table.schema, batches())


def by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("id") if "id" in table.column_names else table


def assert_same_table(got: pa.Table, want: pa.Table) -> None:
    """Same column names and types, same rows in ``id`` order (NaN equal to NaN, -0.0 not 0.0)."""
    assert got.column_names == want.column_names, (got.column_names, want.column_names)
    got_types, want_types = [str(t) for t in got.schema.types], [str(t) for t in want.schema.types]
    assert got_types == want_types, f"types {got_types} != expected {want_types}"
    got_rows, want_rows = canonical(by_id(got)), canonical(by_id(want))
    assert len(got_rows) == len(want_rows), f"{len(got_rows)} rows != expected {len(want_rows)}"
    for g, w in zip(got_rows, want_rows, strict=True):
        assert g == w, f"row {g!r:.400} != expected {w!r:.400}"


def upserted(old: pa.Table, new: pa.Table) -> pa.Table:
    """``old`` with every row whose id is in ``new`` replaced, plus ``new``'s other rows (upsert semantics)."""
    kept = old.filter(pc.invert(pc.is_in(old.column("id"), value_set=new.column("id"))))
    return pa.concat_tables([kept, new])


class ConformanceSuite:
    """Subclass as ``TestXxx(ConformanceSuite)`` and define a ``pair`` fixture returning a ``DriverPair``."""

    @_SUITE
    @given(data=st.data())
    def test_round_trip(self, pair: DriverPair, data: st.DataObject) -> None:
        table = data.draw(arrow_tables(pair.tables, key=True), label="table")
        name = pair.fresh_name()
        pair.write(table, name, pair.modes[0] if pair.modes else "append")
        assert_same_table(pair.read(name, table.schema), pair.expected(table))

    @_SUITE
    @given(data=st.data())
    def test_replace_and_upsert(self, pair: DriverPair, data: st.DataObject) -> None:
        first = data.draw(arrow_tables(pair.tables, key=True, min_columns=1, max_columns=3), label="first")
        ids = first.column("id").to_pylist()
        new_ids = data.draw(
            st.lists(st.sampled_from(ids) | st.integers(-(2**63), 2**63 - 1), max_size=6, unique=True)
            if ids
            else st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6, unique=True),
            label="ids",
        )
        second = data.draw(tables_like(first.schema, new_ids, pair.tables), label="second")
        modes: list[str] = [m for m in ("replace", "upsert") if m in pair.modes] or ["overwrite"]
        for mode in modes:
            name = pair.fresh_name()
            plan_mode = "append" if mode == "overwrite" else mode
            pair.write(first, name, plan_mode, "id")
            pair.write(second, name, plan_mode, "id")
            want = upserted(first, second) if mode == "upsert" else second
            assert_same_table(pair.read(name, first.schema), pair.expected(want))

    @_SUITE
    @given(data=st.data())
    def test_failed_write_leaves_target_unchanged(self, pair: DriverPair, data: st.DataObject) -> None:
        first = data.draw(arrow_tables(pair.tables, key=True, max_columns=3), label="first")
        ids = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=2, max_size=6, unique=True), label="ids")
        second = data.draw(tables_like(first.schema, ids, pair.tables), label="second")
        name = pair.fresh_name()
        pair.write(first, name, "append")
        for mode in pair.modes or ("append",):
            with pytest.raises(Exception):  # noqa: B017 - drivers may wrap the upstream's error in their own
                pair.write(_failing_reader(second), name, mode, "id")
            assert_same_table(pair.read(name, first.schema), pair.expected(first))

    @_SUITE
    @given(secret=secret_values())
    def test_no_secret_in_errors(self, pair: DriverPair, secret: str) -> None:
        if pair.failing is None:
            pytest.fail("DriverPair.failing is needed: a write and read that fail while the connection holds a secret")
        config, connection = pair.failing(secret)
        table = pa.table({"id": pa.array([1], pa.int64()), "note": ["x"]})
        for action in (
            lambda: pair.write(table, "osiris_secret_probe", "append", config=config, connection=connection),
            lambda: pair.read("osiris_secret_probe", table.schema, config=config, connection=connection),
        ):
            with pytest.raises(Exception) as err:
                action()
            text = f"{type(err.value).__name__}: {err.value} {err.value.__cause__ or ''} {err.value.__context__ or ''}"
            assert not leaks(secret, text), text


# -- the documented losses of the built-in pairs (docs/types.md) ---------------------------------------------------
_PG_WIDER = {
    pa.int8(): pa.int16(),
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.decimal128(20, 0),
}


def _map_columns(table: pa.Table, fn: Callable[[pa.Field, pa.ChunkedArray], pa.Array | pa.ChunkedArray]) -> pa.Table:
    arrays = [fn(f, table.column(i)) for i, f in enumerate(table.schema)]
    return pa.Table.from_arrays(arrays, names=table.column_names)


def postgres_loss(table: pa.Table) -> pa.Table:
    """PostgreSQL has no int8 or unsigned types: they come back as the next wider signed type (uint64 as
    NUMERIC(20,0) -> decimal128(20, 0)). Values are kept exactly; NaN and +-inf survive in DOUBLE PRECISION."""
    return _map_columns(table, lambda f, c: c.cast(_PG_WIDER[f.type]) if f.type in _PG_WIDER else c)


def _float6(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def _unsigned_zero(v: float | None) -> float | None:
    return 0.0 if v == 0 else v


def mysql_loss(table: pa.Table) -> pa.Table:
    """MariaDB: BOOLEAN is TINYINT(1) (bool -> int8 0/1); DATETIME(6) has no zone (timestamp[tz] -> the naive UTC
    wall-clock time); FLOAT (float32) comes back with 6 significant digits (the server's text form); -0.0 is
    stored as 0 (the server drops the sign of zero whichever way it is written or read)."""

    def one(field: pa.Field, col: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        if pa.types.is_boolean(field.type):
            return col.cast(pa.int8())
        if pa.types.is_timestamp(field.type) and field.type.tz:
            return col.cast(pa.timestamp(field.type.unit))
        if field.type == pa.float32():
            return pa.array([_unsigned_zero(_float6(v)) for v in col.to_pylist()], pa.float32())
        if pa.types.is_floating(field.type):
            return pa.array([_unsigned_zero(v) for v in col.to_pylist()], field.type)
        return col

    return _map_columns(table, one)


EXPECTED: dict[str, Callable[[pa.Table], pa.Table]] = {
    "csv": identity,
    "duckdb": identity,
    "postgres": postgres_loss,
    "mysql": mysql_loss,
}
"""What each built-in pair's extractor returns for a table its writer wrote (docs/types.md)."""
