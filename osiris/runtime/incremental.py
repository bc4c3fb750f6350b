"""Incremental extraction: a cursor's high-water mark kept WITH the data it describes (docs/incremental.md).

An extractor whose config has ``incremental: {cursor_column, initial_value, end_value, lookback, tie_breaker}``
reads only the rows past the last committed mark. The mark lives in the target of the one writer downstream of
the extractor, so it commits or rolls back with the rows:

- PostgreSQL / Supabase / DuckDB: table ``_osirisc_state`` in the target schema (the writer's transaction);
- MySQL/MariaDB: table ``_osirisc_state`` (InnoDB) in the target database, created before the write transaction
  (MySQL commits DDL implicitly), written inside it;
- CSV: ``<output>.osirisc-state.json`` next to the output, replaced (atomically) right after it.

One ``Cursor`` per incremental extractor in a run: the engine ``load``\\s the state once at run start (from the
writer's target, with the writer's connection), the extractor builds its predicate from it (``wrap_sql``,
``filter_batch``) and ``track``\\s the maximum cursor value it emitted, and the writer calls ``before_commit``
in its transaction (``commit_file`` for CSV): it waits until the extractor's stream ended, then compare-and-sets
the state row (the version it read at run start must still be there), so of two runs that overlap only the first
to commit advances the state; the other fails and rolls back its rows.

The state holds the pipeline's name, the step id, the cursor column, the mark, a version, the rows read and the
time: never a connection value.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import decimal
import importlib
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from osiris.runtime.driver import StepContext, StepError

TABLE = "_osirisc_state"
FILE_SUFFIX = ".osirisc-state.json"
WAIT_FOR_SOURCE_S = 3600.0  # a writer ready to commit waits this long for its incremental source's stream to end

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)\s*$", re.I)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class StateConflict(StepError):
    """Another run (or ``osirisc state reset``) changed the state since this run read it."""


# -- values ------------------------------------------------------------------------------------------------------------
def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        raise StepError(f"a boolean cursor value ({value}) is not orderable")
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "timestamp[tz]" if value.tzinfo is not None else "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, str):
        return "string"
    raise StepError(f"a cursor value of type {type(value).__name__} cannot be kept as a mark")


def to_json(value: Any) -> dict[str, str]:
    kind = kind_of(value)
    text = value.isoformat() if isinstance(value, dt.date) else repr(value) if kind == "float" else str(value)
    return {"type": kind, "value": text}


def from_json(mark: Mapping[str, Any]) -> Any:
    kind, text = str(mark["type"]), str(mark["value"])
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "decimal":
        return decimal.Decimal(text)
    if kind in ("timestamp", "timestamp[tz]"):
        return dt.datetime.fromisoformat(text)
    if kind == "date":
        return dt.date.fromisoformat(text)
    return text


def lookback_seconds(lookback: Any) -> float:
    """A lookback as seconds: a number, or ``"15m"``/``"2 hours"``/``"1d"``."""
    if isinstance(lookback, int | float) and not isinstance(lookback, bool):
        return float(lookback)
    m = _DURATION.match(str(lookback))
    if not m:
        raise StepError(f"lookback {lookback!r} is not a number or a duration such as '15m', '2h', '1d'")
    return float(m.group(1)) * _UNIT_S[m.group(2)[0].lower()]


def minus(value: Any, lookback: Any) -> Any:
    """``value`` moved back by ``lookback``: cursor units for numbers, seconds (or a duration) for timestamps,
    days (or a duration) for dates. Text cursors have no lookback."""
    if lookback in (None, 0, "0"):
        return value
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=lookback_seconds(lookback))
    if isinstance(value, dt.date):
        days = float(lookback) if isinstance(lookback, int | float) else lookback_seconds(lookback) / 86400
        return value - dt.timedelta(days=-(-days // 1))
    if isinstance(lookback, str):
        raise StepError(f"lookback {lookback!r} is a duration but the cursor is a number: give a number")
    if isinstance(value, int):
        return (
            value - lookback if isinstance(lookback, int) else decimal.Decimal(value) - decimal.Decimal(str(lookback))
        )
    if isinstance(value, decimal.Decimal):
        return value - decimal.Decimal(str(lookback))
    if isinstance(value, float):
        return value - float(lookback)
    raise StepError("a text cursor cannot have a lookback (there is no 'earlier by N' for text)")


def quote_ident(dialect: str, name: str) -> str:
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def literal(dialect: str, value: Any) -> str:
    """``value`` as an SQL literal of ``dialect`` (marks and the config's initial/end values)."""
    if isinstance(value, bool):
        raise StepError("a boolean is not a cursor value")
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        if dialect == "mysql" and value.tzinfo is not None:  # MySQL has no zoned literal: UTC wall-clock time
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if value.tzinfo is not None:
            return f"TIMESTAMPTZ '{value.isoformat(sep=' ')}'"
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    text = str(value)
    if dialect == "mysql":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


# -- the cursor of one extractor in one run ----------------------------------------------------------------------------
@attrs.define(eq=False)
class Cursor:
    """One incremental extractor's state in one run; shared by the extractor's and the writer's threads."""

    pipeline: str
    step: str  # the extractor
    config: Mapping[str, Any]  # its ``incremental`` block
    store: Store
    loaded: bool = False
    load_error: str | None = None
    mark: Mapping[str, Any] | None = None  # the committed mark ({"type", "value"}) read at run start
    version: int | None = None  # the committed row's version (None: no state yet)
    observed: Any = None  # the largest cursor value the extractor emitted in this run
    rows: int = 0
    done: threading.Event = attrs.field(factory=threading.Event)
    failed: str | None = None
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    @property
    def column(self) -> str:
        return str(self.config["cursor_column"])

    def fail(self, why: str) -> None:
        self.failed = why
        self.done.set()

    def load(self) -> None:
        """Read the committed state (once, at run start); a failure is kept and fails the extractor."""
        try:
            found = self.store.read(self.pipeline, self.step)
        except Exception as exc:
            self.load_error = f"cannot read the incremental state from {self.store.where()}: {exc}"
        else:
            if found is not None:
                self.mark, self.version, column = found
                if column != self.column and self.mark is not None:
                    self.load_error = (
                        f"the incremental state in {self.store.where()} is a mark of cursor column '{column}', but "
                        f"this step's cursor is now '{self.column}': run `osirisc state reset PIPELINE {self.step}` "
                        "to start the new cursor from its initial_value"
                    )
        self.loaded = True

    def bounds(self) -> tuple[Any, bool, Any]:
        """``(lower, inclusive, end)``: the run reads rows with ``lower < cursor`` (``<=`` when inclusive: the
        initial value) and ``cursor < end``; ``lower`` None means from the start."""
        if self.load_error:
            raise StepError(self.load_error)
        end = self.config.get("end_value")
        if self.mark is not None:
            return minus(from_json(self.mark), self.config.get("lookback")), False, end
        return self.config.get("initial_value"), True, end

    def predicate(self, dialect: str) -> str | None:
        lower, inclusive, end = self.bounds()
        col = quote_ident(dialect, self.column)
        parts = []
        if lower is not None:
            parts.append(f"{col} {'>=' if inclusive else '>'} {literal(dialect, lower)}")
        if end is not None:
            parts.append(f"{col} < {literal(dialect, end)}")
        return " AND ".join(parts) or None

    def order_by(self, dialect: str) -> str:
        cols = [self.column, *[c for c in self.config.get("tie_breaker") or [] if c != self.column]]
        return ", ".join(quote_ident(dialect, c) for c in cols)

    def wrap_sql(self, dialect: str, sql: str, *, percent: bool = False) -> str:
        """``sql`` limited to this run's cursor range and ordered by the cursor (and tie-breaker)."""
        where = self.predicate(dialect)
        text = f" WHERE {where}" if where else ""
        text += f" ORDER BY {self.order_by(dialect)}"
        if percent:  # the query has %s parameters: a literal % must be doubled
            text = text.replace("%", "%%")
        return f"SELECT * FROM ({sql}) AS _osirisc_src{text}"

    def filter_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """For sources filtered in the client (CSV): the rows of ``batch`` within this run's range."""
        lower, inclusive, end = self.bounds()
        if lower is None and end is None:
            return batch
        col = batch.column(self.column)
        mask = None
        for value, op in ((lower, pc.greater_equal if inclusive else pc.greater), (end, pc.less)):
            if value is None:
                continue
            m = op(col, _scalar(value, col.type))
            mask = m if mask is None else pc.and_(mask, m)
        return batch.filter(pc.fill_null(mask, False))

    def filter_reader(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        if self.column not in reader.schema.names:
            self.fail(f"the extractor's output has no cursor column '{self.column}'")
            raise StepError(str(self.failed))
        self.bounds()  # a state that could not be read fails now
        return pa.RecordBatchReader.from_batches(reader.schema, (self.filter_batch(b) for b in reader))

    def track(self, ctx: StepContext, reader: pa.RecordBatchReader, *, query: str | None) -> pa.RecordBatchReader:
        """``reader`` passed through, remembering the largest cursor value; the end of the stream (or its
        failure) is what a writer waits for before it commits the new mark."""
        if self.column not in reader.schema.names:
            self.fail(f"the extractor's output has no cursor column '{self.column}'")
            raise StepError(str(self.failed))
        ctx.event("incremental", {"cursor_column": self.column, "state": self.mark, "query": query})

        def batches() -> Iterator[pa.RecordBatch]:
            ok = False
            try:
                for batch in reader:
                    if batch.num_rows:
                        top = pc.max(batch.column(self.column)).as_py()
                        with self.lock:
                            self.rows += batch.num_rows
                            if top is not None and (self.observed is None or top > self.observed):
                                self.observed = top
                    yield batch
                ok = True
            finally:
                if not ok:
                    self.failed = "the incremental source did not finish"
                self.done.set()
                ctx.event("incremental_read", {"rows_read": self.rows, "max_cursor": self._observed_json()})

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _observed_json(self) -> dict[str, str] | None:
        return None if self.observed is None else to_json(self.observed)

    def new_mark(self, ctx: StepContext) -> dict[str, str] | None:
        """The mark to commit, after the extractor's stream ended: the larger of the committed mark and the
        largest cursor value read (a run that read nothing keeps the mark)."""
        deadline = time.monotonic() + WAIT_FOR_SOURCE_S
        while not self.done.wait(0.05):
            ctx.cancel.check()
            if time.monotonic() > deadline:
                raise StepError(f"incremental source '{self.step}' did not finish; nothing committed")
        if self.failed:
            raise StepError(f"incremental source '{self.step}': {self.failed}; nothing committed")
        previous = from_json(self.mark) if self.mark is not None else None
        if self.observed is None:
            return dict(self.mark) if self.mark is not None else None
        try:
            if previous is not None and previous > self.observed:
                return dict(self.mark)  # type: ignore[arg-type]
        except TypeError:  # the column's type changed (a zone added, text to number): the new values rule
            pass
        return to_json(self.observed)


def _scalar(value: Any, typ: pa.DataType) -> pa.Scalar:
    """``value`` (a mark or the config's initial/end value) as an Arrow scalar of the column's type; a time
    without a zone compared with a zoned column is UTC."""
    try:
        return pa.scalar(value).cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if pa.types.is_timestamp(typ) and typ.tz:
            try:
                return pa.scalar(value).cast(pa.timestamp(typ.unit)).cast(typ)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        raise StepError(f"{value!r} cannot be compared with a column of type {typ}") from None


# -- where the state lives ---------------------------------------------------------------------------------------------
class Store(abc.ABC):
    """Where one target keeps its incremental state: a table in a database (SqlStore) or a file (FileStore)."""

    dialect: str = ""

    @abc.abstractmethod
    def where(self) -> str: ...

    @abc.abstractmethod
    def read(self, pipeline: str, step: str) -> tuple[dict[str, Any] | None, int, str] | None:
        """``(mark, version, cursor_column)`` of the committed state, or None (run start; MySQL: creates the table)."""

    @abc.abstractmethod
    def entry(self, pipeline: str, step: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def reset(self, pipeline: str, step: str) -> bool: ...


def _row_mark(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _conflict(cursor: Cursor, where: str) -> StateConflict:
    return StateConflict(
        f"the incremental state of step '{cursor.step}' in {where} changed since this run started (another run "
        "of this pipeline committed first, or the state was reset): this run's rows were rolled back; run again "
        "to continue from the new state"
    )


@attrs.define
class SqlStore(Store):
    """``_osirisc_state`` in the writer's target schema/database."""

    dialect: str
    component: str
    config: Mapping[str, Any]  # the writer's resolved config
    connection: Mapping[str, Any] | None
    schema: str | None
    base_dir: Path

    def qualified(self, schema: str | None) -> str:
        table = quote_ident(self.dialect, TABLE)
        return f"{quote_ident(self.dialect, schema)}.{table}" if schema else table

    def where(self) -> str:
        return f"{self.schema + '.' if self.schema else ''}{TABLE} ({self.dialect})"

    def create_sql(self, schema: str | None) -> str:
        key = "varchar(255)" if self.dialect == "mysql" else "text"  # MySQL keys need a length
        ts = "timestamptz" if self.dialect == "postgres" else "timestamp"
        engine = " ENGINE=InnoDB" if self.dialect == "mysql" else ""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.qualified(schema)} (pipeline {key} NOT NULL, step {key} NOT NULL, "
            f"cursor_column text NOT NULL, mark text, version bigint NOT NULL, rows_read bigint, "
            f"updated_at {ts}, PRIMARY KEY (pipeline, step)){engine}"
        )

    def _connect(self) -> Any:
        # The writer's own connector, loaded by name only when that writer keeps the state: an extractor importing
        # this module must not pull in the packages of every writer (tests/components/test_driver_requirements.py);
        # the writer's component declares them.
        if self.dialect == "postgres":
            postgres = _connector("postgres")
            p = postgres.params(self.config, self.connection)
            return postgres.connect(p, autocommit=True, tries=postgres.attempts(self.config))
        if self.dialect == "mysql":
            mysql = _connector("mysql")
            return mysql.connect_pymysql(mysql.params(self.config, self.connection), autocommit=True)
        raise AssertionError(self.dialect)

    def entry(self, pipeline: str, step: str) -> dict[str, Any] | None:
        """The whole state row (``osirisc state show``), or None."""
        found = self._select(
            pipeline, step, "cursor_column, mark, version, rows_read, updated_at", create=False, delete=False
        )
        if found is None:
            return None
        column, mark, version, rows, updated = found
        return {"cursor_column": column, "mark": _row_mark(mark), "version": int(version), "rows_read": rows,
                "updated_at": None if updated is None else str(updated)}  # fmt: skip

    def reset(self, pipeline: str, step: str) -> bool:
        """Delete the state row (the next run reads everything); True when there was one."""
        return self._select(pipeline, step, "version", create=False, delete=True) is not None

    def read(self, pipeline: str, step: str) -> tuple[dict[str, Any] | None, int, str] | None:
        found = self._select(pipeline, step, "mark, version, cursor_column", create=True, delete=False)
        return None if found is None else (_row_mark(found[0]), int(found[1]), str(found[2]))

    def _select(self, pipeline: str, step: str, columns: str, *, create: bool, delete: bool) -> Any:
        if self.dialect == "duckdb":
            return self._duckdb(pipeline, step, columns, delete=delete)
        conn = self._connect()
        try:
            cur = conn.cursor()
            if self.schema is None:
                cur.execute("SELECT current_schema()" if self.dialect == "postgres" else "SELECT DATABASE()")
                self.schema = str(cur.fetchone()[0])
            if create and self.dialect == "mysql":  # now, outside the write transaction: MySQL commits DDL at once
                with contextlib.suppress(Exception):  # a concurrent CREATE of the same table: it exists now
                    cur.execute(self.create_sql(self.schema))
            elif not self._exists(cur):
                return None
            key = (pipeline, step)
            cur.execute(f"SELECT {columns} FROM {self.qualified(self.schema)} WHERE pipeline = %s AND step = %s", key)
            row = cur.fetchone()
            if delete and row is not None:
                cur.execute(f"DELETE FROM {self.qualified(self.schema)} WHERE pipeline = %s AND step = %s", key)
        finally:
            conn.close()
        return row

    def _exists(self, cur: Any) -> bool:
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (self.schema, TABLE),
        )
        return bool(cur.fetchone()[0])

    def _duck_path(self) -> Path:
        value = self.config.get("path") or (self.connection or {}).get("path")
        if not value:
            raise StepError("no DuckDB database: give `path` in the config or in the @duckdb connection")
        from osiris.runtime.files import resolve_path

        where = StepContext("state", self.config, self.connection, run_dir=self.base_dir, base_dir=self.base_dir)
        return resolve_path(where, str(value))

    def _duckdb(self, pipeline: str, step: str, columns: str, *, delete: bool) -> Any:
        import duckdb

        duckdb_files = importlib.import_module("osiris.runtime.duckdb_files")  # the DuckDB writer's: see _connect

        path = self._duck_path()
        if not path.exists():
            return None
        deadline = time.monotonic() + float(self.config.get("lock_timeout") or 30)
        while True:
            try:
                con = duckdb_files.acquire(path)
                break
            except duckdb.IOException as exc:
                if "could not set lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            schema = self.schema or "main"
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, TABLE],
            ).fetchone()[0]
            if not found:
                return None
            where = f"FROM {self.qualified(schema)} WHERE pipeline = ? AND step = ?"
            row = con.execute(f"SELECT {columns} {where}", [pipeline, step]).fetchone()
            if delete and row is not None:
                con.execute(f"DELETE {where}", [pipeline, step])
        finally:
            duckdb_files.release(path, con)
        return row

    def commit(self, cur: Any, cursor: Cursor, mark: dict[str, str] | None, executed: list[str]) -> None:
        """Compare-and-set the state row with the write transaction's cursor (``cur``)."""
        ph = "?" if self.dialect == "duckdb" else "%s"
        schema = self.schema or ("main" if self.dialect == "duckdb" else None)
        table = self.qualified(schema)
        now = "now()" if self.dialect != "mysql" else "UTC_TIMESTAMP(6)"
        if self.dialect == "postgres":  # runs writing other tables of the schema may create it at the same time
            name = "'osiris state " + (schema or "").replace("'", "''") + "'"
            executed.append(f"SELECT pg_advisory_xact_lock(hashtextextended({name}, 0))")
            cur.execute(executed[-1])
        if self.dialect != "mysql":  # transactional DDL: created with the rows (a failed run leaves no table)
            executed.append(self.create_sql(schema))
            cur.execute(executed[-1])
        text = json.dumps(mark, sort_keys=True) if mark is not None else None
        if cursor.version is None:
            sql = (
                f"INSERT INTO {table} (pipeline, step, cursor_column, mark, version, rows_read, updated_at) "
                f"VALUES ({ph}, {ph}, {ph}, {ph}, 1, {ph}, {now})"
            )
            params: list[Any] = [cursor.pipeline, cursor.step, cursor.column, text, cursor.rows]
            if self.dialect == "postgres":
                sql += " ON CONFLICT (pipeline, step) DO NOTHING"
        else:
            sql = (
                f"UPDATE {table} SET mark = {ph}, version = version + 1, rows_read = {ph}, cursor_column = {ph}, "
                f"updated_at = {now} WHERE pipeline = {ph} AND step = {ph} AND version = {ph}"
            )
            params = [text, cursor.rows, cursor.column, cursor.pipeline, cursor.step, cursor.version]
        executed.append(sql)
        try:
            result = cur.execute(sql, params)
        except Exception as exc:
            if cursor.version is None and _duplicate(exc):
                raise _conflict(cursor, self.where()) from None
            raise
        count = int((result or cur).fetchone()[0]) if self.dialect == "duckdb" else int(cur.rowcount)
        if count != 1:
            raise _conflict(cursor, self.where())


def _connector(name: str) -> Any:
    return importlib.import_module(f"osiris.runtime.connectors.{name}")


def _duplicate(exc: Exception) -> bool:
    text = str(exc).lower()
    return "duplicate" in text or "unique" in text or "primary key" in text


@attrs.define
class FileStore(Store):
    """``<output>.osirisc-state.json``: ``{"<pipeline>/<step>": {...}}``, replaced atomically."""

    output: Path
    dialect: str = "csv"

    @property
    def path(self) -> Path:
        return self.output.with_name(self.output.name + FILE_SUFFIX)

    def where(self) -> str:
        return f"{self.path.name} (next to the output)"

    def entries(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return dict(data.get("states", {}))

    def read(self, pipeline: str, step: str) -> tuple[dict[str, Any] | None, int, str] | None:
        entry = self.entries().get(f"{pipeline}/{step}")
        return None if entry is None else (entry.get("mark"), int(entry["version"]), str(entry["cursor_column"]))

    def entry(self, pipeline: str, step: str) -> dict[str, Any] | None:
        found = self.entries().get(f"{pipeline}/{step}")
        return None if found is None else dict(found)

    def reset(self, pipeline: str, step: str) -> bool:
        with file_lock(self.path):
            entries = self.entries()
            found = entries.pop(f"{pipeline}/{step}", None)
            if found is not None:
                self.replace(entries)
        return found is not None

    def replace(self, entries: Mapping[str, Any]) -> None:
        if not entries:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        from osiris.runtime.files import atomic_output

        with atomic_output(self.path) as tmp:
            tmp.write_text(json.dumps({"states": dict(entries)}, sort_keys=True, indent=1) + "\n", encoding="utf-8")


@contextlib.contextmanager
def file_lock(path: Path, ctx: StepContext | None = None) -> Iterator[None]:
    """An exclusive advisory lock on ``<path>.lock`` (held across check-and-replace of a state file); while
    another run holds it, wait, checking the run's cancellation."""
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+b") as fh:
        told = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if ctx is not None:
                    ctx.cancel.check()
                    if not told:
                        ctx.event(
                            "info", {"step": ctx.step_id, "message": f"another run holds {lock_path.name}; waiting"}
                        )
                        told = True
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# -- the writers' hooks ------------------------------------------------------------------------------------------------
def before_commit(ctx: StepContext, cur: Any, executed: list[str]) -> None:
    """Called by a SQL writer inside its transaction, just before COMMIT: write the new mark of every
    incremental source this writer keeps the state of (compare-and-set; a conflict raises, so it rolls back)."""
    for cursor in ctx.incremental:
        store = cursor.store
        assert isinstance(store, SqlStore)
        mark = cursor.new_mark(ctx)
        store.commit(cur, cursor, mark, executed)
        ctx.event("incremental_state", {"source": cursor.step, "mark": mark, "rows_read": cursor.rows})


@contextlib.contextmanager
def commit_file(ctx: StepContext, output: Path) -> Iterator[None]:
    """Around a file writer's atomic write: holds the state file's lock, checks no other run moved the state,
    and after the output was replaced, replaces the state file with the new marks. A no-op without sources."""
    cursors = list(ctx.incremental)
    if not cursors:
        yield
        return
    store = FileStore(output)
    with file_lock(store.path, ctx):

        def check() -> dict[str, Any]:
            entries = store.entries()
            for c in cursors:
                found = entries.get(f"{c.pipeline}/{c.step}")
                if (None if found is None else int(found["version"])) != c.version:
                    raise _conflict(c, store.where())
            return entries

        check()
        yield
        entries = check()
        for c in cursors:
            mark = c.new_mark(ctx)
            entries[f"{c.pipeline}/{c.step}"] = {
                "cursor_column": c.column,
                "mark": mark,
                "rows_read": c.rows,
                "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "version": (c.version or 0) + 1,
            }
            ctx.event("incremental_state", {"source": c.step, "mark": mark, "rows_read": c.rows})
        store.replace(entries)


# -- wiring a plan's steps ---------------------------------------------------------------------------------------------
def downstream_writers(plan_steps: list[Mapping[str, Any]], source: str) -> list[Mapping[str, Any]]:
    """The writer steps that (transitively) read the output of ``source``."""
    readers: dict[str, list[Mapping[str, Any]]] = {}
    for s in plan_steps:
        for inp in s.get("inputs", []):
            readers.setdefault(str(inp["step"]), []).append(s)
    found: dict[str, Mapping[str, Any]] = {}
    todo, seen = [source], {source}
    while todo:
        for s in readers.get(todo.pop(), []):
            if s["id"] in seen:
                continue
            seen.add(s["id"])
            if s.get("mode") == "write":
                found[s["id"]] = s
            else:
                todo.append(s["id"])
    return list(found.values())


def store_for(writer: Mapping[str, Any], config: Mapping[str, Any], connection: Mapping[str, Any] | None,
              base_dir: Path) -> Store:  # fmt: skip
    component, dialect = str(writer["component"]), writer.get("dialect")  # the plan's: its spec's x-compiler.dialect
    if dialect == "csv":
        from osiris.runtime.files import resolve_path

        where = StepContext(str(writer["id"]), config, connection, run_dir=base_dir, base_dir=base_dir)
        return FileStore(resolve_path(where, str(config["path"])))
    if dialect not in ("postgres", "mysql", "duckdb"):
        raise StepError(f"writer '{writer['id']}' ({component}) cannot keep an incremental state")
    target = (writer.get("write") or {}).get("target") or {}
    schema = target.get("schema") or config.get("schema")
    return SqlStore(str(dialect), component, config, connection, str(schema) if schema else None, base_dir)


def cursors_for(
    pipeline: str,
    plan_steps: list[Mapping[str, Any]],
    resolved: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any] | None]],
    base_dir: Path,
) -> dict[str, list[Cursor]]:
    """Every step's cursors: an incremental extractor gets its own, its writer the ones it commits. A source
    without exactly one writer downstream is an error (``osirisc check`` reports it first, OSR-E252)."""
    out: dict[str, list[Cursor]] = {}
    for s in plan_steps:
        block = (s.get("config") or {}).get("incremental")
        if s.get("mode") != "read" or not isinstance(block, Mapping):
            continue
        writers = downstream_writers(plan_steps, str(s["id"]))
        if len(writers) != 1:
            raise StepError(
                f"incremental step '{s['id']}' must feed exactly one writer (it feeds {len(writers)}): the state "
                "is kept with that writer's data"
            )
        writer = writers[0]
        config, connection = resolved[str(writer["id"])]
        cursor = Cursor(pipeline, str(s["id"]), dict(block), store_for(writer, config, connection, base_dir))
        out.setdefault(str(s["id"]), []).append(cursor)
        out.setdefault(str(writer["id"]), []).append(cursor)
    return out


def source_cursor(ctx: StepContext) -> Cursor | None:
    """The extractor's own cursor (None when the step is not incremental)."""
    for cursor in ctx.incremental:
        if cursor.step == ctx.step_id:
            return cursor
    return None


def sql_for(ctx: StepContext, dialect: str, sql: str, *, percent: bool = False) -> tuple[Cursor | None, str]:
    """An extractor's query for this run: ``sql`` itself, or limited to the cursor range when incremental."""
    cursor = source_cursor(ctx)
    if cursor is None:
        return None, sql
    try:
        return cursor, cursor.wrap_sql(dialect, sql, percent=percent)
    except BaseException as exc:
        cursor.fail(str(exc))
        raise


def tracked(
    ctx: StepContext, cursor: Cursor | None, reader: pa.RecordBatchReader, query: str | None
) -> pa.RecordBatchReader:
    """``reader`` as it is (not incremental) or tracked for the new mark."""
    return reader if cursor is None else cursor.track(ctx, reader, query=query)


def read_sql(
    ctx: StepContext, dialect: str, sql: str, batch_size: int, read: Any, *params: Any
) -> pa.RecordBatchReader:
    """``read(ctx, query, batch_size, *params)`` of ``sql`` limited to this run's cursor range (when incremental)."""
    cursor, query = sql_for(ctx, dialect, sql, percent=bool(params and params[0] is not None))
    try:
        reader = read(ctx, query, batch_size, *params)
    except BaseException as exc:
        if cursor is not None:
            cursor.fail(str(exc))
        raise
    return tracked(ctx, cursor, reader, query)


def describe(pipeline: str, step: str, config: Mapping[str, Any], dialect: str, where: str) -> dict[str, Any]:
    """What ``osirisc plan`` shows of one incremental source: the first run's predicate and the later runs'
    (symbolic: the mark is read at run start from ``where``), and the order."""
    if dialect == "hogql":  # a time window in HogQL (posthog.extractor), paged by seek on (time, id)
        col = str(config["cursor_column"])
        return {
            "source": step,
            "first_run": f"{col} >= initial_since (default: 30 days ago) - lookback_window_minutes AND {col} < now",
            "next_runs": f"{col} >= <mark> - lookback_window_minutes AND {col} < now",
            "order_by": f"{col}, its id",
            "state": f"{where}, key ({pipeline!r}, {step!r}), written in the writer's transaction",
        }
    first = Cursor(pipeline, step, config, FileStore(Path()), loaded=True)
    col = quote_ident(dialect, first.column)
    later = f"{col} > <mark>"
    lookback = config.get("lookback")
    if lookback not in (None, 0, "0"):
        later = f"{col} > <mark> - {lookback}"
    if config.get("end_value") is not None:
        later += f" AND {col} < {literal(dialect, config['end_value'])}"
    return {
        "source": step,
        "first_run": first.predicate(dialect) or "every row",
        "next_runs": later,
        "order_by": first.order_by(dialect),
        "state": f"{where}, key ({pipeline!r}, {step!r}), written in the writer's transaction",
    }
