"""MySQL/MariaDB: connecting, the one type mapping (column metadata -> Arrow), and streaming reads.

Rows are read with an unbuffered (server-side) cursor and no value converters, so every value arrives as its
text (or raw bytes for binary columns); whole columns are then turned into Arrow with pyarrow's C++ casts. The
fast path uses mysqlclient (``MySQLdb``, C row decoding) when installed; pymysql is the fallback that always works.
A fetch thread reads the next rows while the caller converts and writes the previous batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from osiris.runtime import connections
from osiris.runtime.connectors import mysqlcli, scrub, secrets_of, with_retries
from osiris.runtime.driver import StepError

# Field type codes of the MySQL protocol (pymysql.constants.FIELD_TYPE).
DECIMAL, TINY, SHORT, LONG, FLOAT, DOUBLE, NULL, TIMESTAMP, LONGLONG, INT24 = range(10)
DATE, TIME, DATETIME, YEAR, NEWDATE, VARCHAR, BIT = range(10, 17)
JSON, NEWDECIMAL, ENUM, SET, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING, GEOMETRY = range(245, 256)
NOT_NULL_FLAG, UNSIGNED_FLAG, ZEROFILL_FLAG = 1, 32, 64
BINARY_CHARSET = 63
_INTS = {TINY: 8, SHORT: 16, INT24: 32, LONG: 32, LONGLONG: 64}
_TEXTS = {VARCHAR, ENUM, SET, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING}


@attrs.frozen
class Column:
    """One result column's metadata as the server sent it."""

    name: str
    type_code: int
    flags: int
    length: int
    scale: int
    charset: int


def arrow_type(col: Column) -> pa.DataType:
    """The exact Arrow type for a MySQL result column (the single place this mapping lives)."""
    unsigned = bool(col.flags & UNSIGNED_FLAG)
    code = col.type_code
    if code in _INTS:
        bits = _INTS[code]
        return getattr(pa, f"{'u' if unsigned else ''}int{bits}")()
    if code in (DECIMAL, NEWDECIMAL):
        precision = col.length - (1 if col.scale > 0 else 0) - (0 if unsigned else 1)
        precision = max(precision, col.scale, 1)
        return pa.decimal128(precision, col.scale) if precision <= 38 else pa.decimal256(precision, col.scale)
    if code == FLOAT:
        return pa.float32()
    if code == DOUBLE:
        return pa.float64()
    if code == YEAR:
        return pa.int16()
    if code in (DATE, NEWDATE):
        return pa.date32()
    if code == DATETIME:
        return pa.timestamp("us")
    if code == TIMESTAMP:
        return pa.timestamp("us", tz="UTC")  # the session runs with time_zone '+00:00'
    if code == TIME:
        return pa.time64("us")
    if code == BIT:
        return pa.bool_() if col.length == 1 else pa.uint64()
    if code == NULL:
        return pa.null()
    if code == JSON:
        return pa.string()
    if code in _TEXTS:
        return pa.binary() if col.charset == BINARY_CHARSET else pa.string()
    return pa.binary()  # GEOMETRY and anything unknown: the raw bytes


def nullable(col: Column) -> bool:
    """Whether the result column may hold NULL, from the server's NOT NULL flag (exact for tables, joins and
    expressions). DATE, DATETIME and TIMESTAMP stay nullable: a zero date is read as NULL (with a warning)."""
    if col.type_code in (DATE, NEWDATE, DATETIME, TIMESTAMP):
        return True
    return not col.flags & NOT_NULL_FLAG


def schema_of(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=nullable(c)) for c in columns])


# -- column conversion ----------------------------------------------------------------------------------------
_ZERO_DATES = ("0000-00-00",)


def _text(values: list[Any]) -> pa.Array:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bytes | bytearray):
        return pc.cast(pa.array(values, pa.binary()), pa.string())
    return pa.array(values, pa.string())


def _time(value: Any) -> dt.time | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"TIME value '{text}' is outside 00:00:00..23:59:59.999999") from None


def to_array(
    values: list[Any], typ: pa.DataType, name: str, on_zero_date: Any = None, *, bit: bool = False
) -> pa.Array:
    """Raw column values (text/bytes/None, as the server sent them) -> an Arrow array of ``typ``."""
    try:
        if pa.types.is_binary(typ):
            return pa.array([v.encode() if isinstance(v, str) else v for v in values], pa.binary())
        if pa.types.is_string(typ):
            if any(isinstance(v, bytes | bytearray) for v in values):
                return pc.cast(pa.array([v.encode() if isinstance(v, str) else v for v in values], pa.binary()), typ)
            return pa.array(values, pa.string())
        if pa.types.is_null(typ):
            return pa.nulls(len(values))
        if pa.types.is_time(typ):
            return pa.array([_time(v) for v in values], typ)
        if bit:
            ints = [None if v is None else int.from_bytes(v, "big") for v in values]
            return pa.array([None if i is None else bool(i) for i in ints] if typ.equals(pa.bool_()) else ints, typ)
        return from_text(_text(values), typ, name, on_zero_date)
    except (pa.ArrowInvalid, ValueError, OverflowError) as exc:
        raise StepError(f"column '{name}': cannot read a value as {typ}: {exc}") from None


def from_text(text: pa.Array, typ: pa.DataType, name: str, on_zero_date: Any = None) -> pa.Array:
    """A string array of the server's text form of a non-text column -> ``typ`` (vectorised casts).

    Zero dates become NULL (reported through ``on_zero_date``); TIME goes through ``datetime.time`` per value.
    Raises StepError when a value does not fit ``typ``."""
    try:
        if pa.types.is_time(typ):
            return pa.array([_time(v) for v in text.to_pylist()], typ)
        if pa.types.is_date(typ) or pa.types.is_timestamp(typ):
            zero = pc.starts_with(text, _ZERO_DATES[0])
            if pc.any(zero).as_py():
                if on_zero_date is not None:
                    on_zero_date(name, pc.sum(zero).as_py())
                text = pc.if_else(zero, pa.scalar(None, pa.string()), text)
            if pa.types.is_timestamp(typ) and typ.tz is not None:
                return pc.cast(pc.cast(text, pa.timestamp(typ.unit)), typ)
        return pc.cast(text, typ)
    except (pa.ArrowInvalid, ValueError, OverflowError) as exc:
        raise StepError(f"column '{name}': cannot read a value as {typ}: {exc}") from None


# -- connecting -----------------------------------------------------------------------------------------------
def params(config: Mapping[str, Any], connection: Mapping[str, Any] | None) -> dict[str, Any]:
    """Host/port/database/user/password: the connection's fields, overridden by the step's config."""
    merged = {**(connection or {}), **{k: v for k, v in config.items() if v is not None}}
    try:
        p = connections.mysql_params(merged)  # all explicit: no option file or MYSQL_* variable fills a gap
    except ValueError as exc:
        raise StepError(str(exc)) from None
    return {**p, "database": merged.get("schema") or p["database"]}


def describe_target(p: Mapping[str, Any]) -> str:
    """How messages name a MySQL source or target: ``mysql 'db' on host:port``."""
    return f"mysql '{p.get('database')}' on {p.get('host')}:{p.get('port')}"


def server_error(exc: BaseException) -> str:
    """A driver's server error as one line, ``<message> (MySQL/MariaDB error <code>)`` like the CLI path's."""
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{args[1]} (MySQL/MariaDB error {args[0]})"
    return f"{type(exc).__name__}: {exc}"


def default_path() -> str:
    """ "cli" when the mariadb/mysql client is installed, else "mysqlclient" when importable, else "pymysql"."""
    if mysqlcli.client_binary() is not None:
        return "cli"
    return "mysqlclient" if fast_path_available() else "pymysql"


def cli_kind(col: Column, typ: pa.DataType) -> str:
    """How the CLI path selects a column: as text (with its NULL indicator), hex bytes, a BIT's number, or plain."""
    if col.type_code == BIT:
        return "bit"
    if pa.types.is_string(typ):
        return "text"
    return "binary" if pa.types.is_binary(typ) else "plain"


def fast_path_available() -> bool:
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        return False
    return True


def _retryable(exc: Exception) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return code in (2002, 2003, 2006, 2013) or isinstance(exc, ConnectionError | TimeoutError)


def connect_pymysql(p: Mapping[str, Any], **extra: Any) -> Any:
    import pymysql
    from pymysql.converters import conversions

    encoders = {k: v for k, v in conversions.items() if not isinstance(k, int)}
    kw = dict(p, charset="utf8mb4", connect_timeout=10, init_command="SET time_zone = '+00:00'", conv=encoders)
    kw.update(extra)
    return with_retries(lambda: pymysql.connect(**kw), _retryable)


def connect_mysqlclient(p: Mapping[str, Any]) -> Any:
    import MySQLdb

    kw = {"host": p["host"], "port": p["port"], "user": p["user"], "password": p["password"], "conv": {}}
    if p.get("database"):
        kw["database"] = p["database"]
    kw.update(charset="utf8mb4", connect_timeout=10, init_command="SET time_zone = '+00:00'")
    return with_retries(lambda: MySQLdb.connect(**kw), _retryable)


def describe(p: Mapping[str, Any], query: str) -> list[Column]:
    """Column metadata of ``query`` without running it to completion (pymysql, ``LIMIT 0`` wrapper)."""
    conn = connect_pymysql(p)
    try:
        return describe_on(conn, query)
    finally:
        conn.close()


def describe_on(conn: Any, query: str) -> list[Column]:
    """Column metadata of ``query`` on an open pymysql connection: the result metadata of the query wrapped in
    ``LIMIT 0``. Read-only: no temporary table, so a user with only SELECT can be described."""
    with conn.cursor() as cur:  # buffered: the empty result is complete when execute returns
        cur.execute(f"SELECT * FROM ({query.strip().rstrip(';')}) AS osiris_q LIMIT 0")
        return [_column(f) for f in cur._result.fields]


def lock_columns(conn: Any, query: str) -> list[dict[str, Any]]:
    """The schema lock's columns for ``query`` (``osirisc introspect``): the logical types of exactly the Arrow
    types the extractor will read, and nullability from the server's NOT NULL flag."""
    from osiris.dialects.types import from_arrow

    return [
        {"name": c.name, "type": from_arrow(arrow_type(c)), "nullable": nullable(c)} for c in describe_on(conn, query)
    ]


def _column(f: Any) -> Column:
    return Column(f.name, f.type_code, f.flags, f.length, f.scale, f.charsetnr)


# -- streaming ------------------------------------------------------------------------------------------------
_DONE = object()


class Reader:
    """Streams ``query`` as Arrow batches; ``path`` is "cli", "mysqlclient" or "pymysql" (see ``default_path``)."""

    def __init__(
        self, p: Mapping[str, Any], query: str, batch_size: int, *, path: str | None = None, on_zero_date: Any = None
    ):
        self.params = dict(p)
        self.query = query
        self.batch_size = batch_size
        self.on_zero_date = on_zero_date
        self.secrets = secrets_of(p)
        self.path = path or default_path()
        self.columns: list[Column] = []
        self._conn: Any = None
        self._cursor: Any = None
        self._cli: mysqlcli.CliStream | None = None

    def open(self) -> pa.Schema:
        """Connect and execute; returns the Arrow schema (from column metadata, before any row arrives)."""
        if self.path == "cli":
            schema = self._open_cli() if mysqlcli.wrappable(self.query) else None
            if schema is not None:
                return schema
            self.path = "mysqlclient" if fast_path_available() else "pymysql"
        if self.path == "mysqlclient":
            try:
                self.columns = describe(self.params, self.query)
            except Exception:
                self.path = "pymysql"  # not a plain SELECT: take the path that reads metadata itself
        if self.path == "mysqlclient":
            import MySQLdb.cursors

            self._conn = connect_mysqlclient(self.params)
            self._cursor = self._conn.cursor(MySQLdb.cursors.SSCursor)
            self._cursor.execute(self.query)
            codes = [d[1] for d in self._cursor.description or ()]
            if codes != [c.type_code for c in self.columns]:
                raise StepError("column metadata changed between describe and execute; rerun the step")
        else:
            import pymysql.cursors

            self._conn = connect_pymysql(self.params)
            self._cursor = self._conn.cursor(pymysql.cursors.SSCursor)
            self._cursor.execute(self.query)
            self.columns = [_column(f) for f in self._cursor._result.fields]
        return schema_of(self.columns)

    def _open_cli(self) -> pa.Schema | None:
        """Start the client on the wrapped query; None (caller takes a driver path) when the query cannot be
        described or the client fails before its first row (missing binary, TLS or auth differences)."""
        binary = mysqlcli.client_binary()
        if binary is None:
            return None
        try:
            self.columns = describe(self.params, self.query)
        except Exception:
            return None  # not a plain SELECT: the driver paths read metadata themselves
        schema = schema_of(self.columns)
        kinds = [cli_kind(c, f.type) for c, f in zip(self.columns, schema, strict=True)]
        # pyarrow's CSV reader needs every row inside one block: size blocks for the widest possible row, and
        # leave tables with MEDIUMTEXT/LONGBLOB/JSON-sized columns to the driver paths
        widest = sum(
            2 * c.length if k in ("text", "binary") else max(c.length, 40)
            for c, k in zip(self.columns, kinds, strict=True)
        )
        if 2 * widest > mysqlcli.MAX_BLOCK:
            return None
        block = max(min(max(self.batch_size * 10, 1 << 20), 2 << 20), 2 * widest)  # read-ahead holds a few blocks
        sql = mysqlcli.wrapped_query(self.query, [c.name for c in self.columns], kinds)
        self._cli = mysqlcli.CliStream(binary, self.params, sql, block)
        self._kinds = kinds
        if not self._cli.started():
            self.close()
            return None
        return schema

    def _cli_batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        assert self._cli is not None
        try:
            yield from self._cli.batches(schema, self._kinds, self._convert)
        except StepError as exc:
            raise self._read_error(str(exc)) from None
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._read_error(str(exc)) from None
        finally:
            self.close()

    def _read_error(self, message: str) -> StepError:
        """What failed first, then why: ``reading rows from mysql 'db' on host:port failed: ...``."""
        text = f"reading rows from {describe_target(self.params)} failed: {message}"
        return StepError(scrub(text, self.secrets), retryable=False)

    def _convert(self, text: pa.Array, field: pa.Field, kind: str) -> pa.Array:
        if pa.types.is_null(field.type):
            return pa.nulls(len(text))
        if kind == "bit":
            ints = from_text(text, pa.uint64(), field.name)
            return pc.cast(ints, pa.bool_()) if field.type.equals(pa.bool_()) else ints
        return from_text(text, field.type, field.name, self.on_zero_date)

    def _fetch(self, out: queue.Queue[Any], stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                rows = self._cursor.fetchmany(self.batch_size)
                if not rows:
                    break
                out.put(rows)
            out.put(_DONE)
        except BaseException as exc:
            out.put(exc)

    def batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yields batches while a thread fetches the next rows; closes the connection at the end or on abandon."""
        if self._cli is not None:
            yield from self._cli_batches(schema)
            return
        chunks: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()
        fetcher = threading.Thread(target=self._fetch, args=(chunks, stop), name="mysql-fetch", daemon=True)
        fetcher.start()
        try:
            while (item := chunks.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise self._read_error(server_error(item))
                columns = list(zip(*item, strict=True))
                arrays = [
                    to_array(list(values), f.type, f.name, self.on_zero_date, bit=c.type_code == BIT)
                    for values, f, c in zip(columns, schema, self.columns, strict=True)
                ]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        finally:
            stop.set()
            while fetcher.is_alive():  # unblock a fetcher waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    chunks.get(timeout=0.05)
                if stop.is_set() and self._conn is not None:
                    self.close()
            self.close()

    def close(self) -> None:
        cli, self._cli = self._cli, None
        if cli is not None:
            cli.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
