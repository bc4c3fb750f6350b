"""A server-formatted CSV export: MySQL/MariaDB writes every row as the exact CSV line Arrow's CSV writer would
write, and the command-line client prints it (docs/mysql-transfer.md, "CSV export").

One ``SELECT CONCAT_WS(<delimiter>, <field>, ...)`` per row; ``mariadb --batch --raw --skip-column-names`` prints
each value unescaped and ends it with ``\\n``. Every field is a SQL expression that is never NULL and gives the
bytes Arrow writes for the type the Arrow path reads the column as (``mysql.arrow_type``): integers, YEAR and
DECIMAL as the server prints them (a scale above 6 as quoted text, as the CSV writer does), text quoted with its
quotes doubled, bytes as quoted lowercase hex, DATE as is, DATETIME/TIMESTAMP with Arrow's six fractional digits
(TIMESTAMP in UTC with ``Z``), NULL as an empty field. A zero date is an empty field and counted (the Arrow path
reads it as NULL and warns); a date Arrow cannot read (a zero month or day, February 30) is counted too and fails
the step, as it fails the Arrow path. ``field`` returns None for a type with no exact form (FLOAT/DOUBLE, TIME,
BIT, JSON, GEOMETRY, ...): the caller then takes the Arrow path for the whole step.

A second statement prints ``FOUND_ROWS()`` and the date counts as the last line; ``ExportStream`` holds it back
from the file. It proves the stream ended after the last row, and gives the row count for the run record.
The password reaches the client as in ``mysqlcli``: only through ``MYSQL_PWD`` in its environment.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any, BinaryIO

import attrs

from osiris.runtime.connectors import mysql, mysqlcli
from osiris.runtime.driver import StepError

CHUNK = 1 << 20  # bytes per read of the client's output (one batch of the export stream)
_TAIL = 4096  # bytes held back from the file until the client ends: the counts line is within them
_TEXT_CODES = mysql._TEXTS
_PLAIN_INTS = set(mysql._INTS) | {mysql.YEAR}
_DATES = {mysql.DATE, mysql.NEWDATE, mysql.DATETIME, mysql.TIMESTAMP}


@attrs.frozen
class Field:
    """One column's CSV field as SQL; ``date``: its zero and bad dates are counted (user variables ``@osiris_zN``
    and ``@osiris_bN``)."""

    sql: str
    date: bool = False


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quoted(expr: str) -> str:
    return f"CONCAT('\"', {expr}, '\"')"


def field(col: mysql.Column, index: int, quote_all: bool) -> Field | str:
    """The CSV field of result column ``col`` (``osiris_q``.name), or why it has no exact form."""
    c = f"osiris_q.{_q(col.name)}"
    code, nullable = col.type_code, mysql.nullable(col)
    typ = mysql.arrow_type(col)
    maybe_quoted = _quoted if quote_all else (lambda e: e)
    # ``+ 0``: the value without its display padding (YEAR 0 is printed 0000, a ZEROFILL column 0005), as Arrow
    # writes the number it reads
    zerofill = bool(col.flags & mysql.ZEROFILL_FLAG)
    if code in _PLAIN_INTS:
        text = maybe_quoted(f"{c} + 0" if code == mysql.YEAR or zerofill else c)
    elif code in (mysql.DECIMAL, mysql.NEWDECIMAL) and 0 <= col.scale <= 38:
        # the server prints exactly `scale` digits, as Arrow does up to scale 6; above it the CSV writer writes
        # the same plain text as a string, which it quotes
        value = f"{c} + 0" if zerofill else c
        text = _quoted(value) if quote_all or col.scale > 6 else value
    elif code in _TEXT_CODES and col.charset == mysql.BINARY_CHARSET:
        text = _quoted(f"LOWER(HEX({c}))")
    elif code in _TEXT_CODES:
        text = _quoted(f"REPLACE({c}, '\"', '\"\"')")
    elif code in _DATES and 0 <= col.scale <= 6:
        return _date_field(c, col, index, maybe_quoted)
    else:
        return f"column '{col.name}' is {typ} (type code {code}): its CSV text is not the server's"
    return Field(f"IF({c} IS NULL, '', {text})" if nullable else text)


def _date_field(c: str, col: mysql.Column, index: int, maybe_quoted: Any) -> Field:
    if col.type_code in (mysql.DATE, mysql.NEWDATE):
        text = c
    else:  # Arrow writes timestamp[us] with six fractional digits; the server prints `scale` (0: no point)
        zone = "Z" if col.type_code == mysql.TIMESTAMP else ""
        pad = ("." if col.scale == 0 else "") + "0" * (6 - col.scale) + zone
        text = f"CONCAT({c}, '{pad}')" if pad else c
    month, day, year = f"MONTH({c})", f"DAYOFMONTH({c})", f"YEAR({c})"
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    days = f"CASE {month} WHEN 2 THEN IF({leap}, 29, 28) WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 "
    days += "ELSE 31 END"
    zero, bad = f"@osiris_z{index}", f"@osiris_b{index}"
    sql = (
        f"CASE WHEN {c} IS NULL THEN '' "
        f"WHEN {month} = 0 OR {day} = 0 THEN "
        f"IF({year} = 0 AND {month} = 0 AND {day} = 0, IF(({zero} := {zero} + 1) IS NULL, '', ''), "
        f"IF(({bad} := {bad} + 1) IS NULL, '', '')) "
        f"WHEN {day} > 28 AND {day} > {days} THEN IF(({bad} := {bad} + 1) IS NULL, '', '') "
        f"ELSE {maybe_quoted(text)} END"
    )
    return Field(sql, date=True)


@attrs.frozen
class Export:
    """The statements of one export and what its counts line holds."""

    sql: str
    dates: tuple[tuple[int, str], ...]  # (index, column name) of the counted date columns


def export_sql(query: str, columns: Sequence[mysql.Column], delimiter: str, quoting: str, crlf: bool) -> Export | str:
    """The client's statements for ``columns`` (in output order) of ``query``, or why the export cannot be exact."""
    fields: list[Field] = []
    for i, col in enumerate(columns):
        got = field(col, i, quoting == "all")
        if isinstance(got, str):
            return got
        fields.append(got)
    if not fields:
        return "the query returns no columns"
    line = f"CONCAT_WS('{delimiter}', {', '.join(f.sql for f in fields)})" if len(fields) > 1 else fields[0].sql
    if crlf:  # the client ends each line with \n
        line = f"CONCAT({line}, CHAR(13 USING utf8mb4))"
    dates = tuple((i, col.name) for i, (col, f) in enumerate(zip(columns, fields, strict=True)) if f.date)
    init = [f"@osiris_z{i} = 0, @osiris_b{i} = 0" for i, _ in dates]
    counts = ["FOUND_ROWS()"] + [f"@osiris_z{i}, @osiris_b{i}" for i, _ in dates]
    sql = (f"SET {', '.join(init)}; " if init else "") + f"SELECT {line} FROM ({query}) AS osiris_q; "
    return Export(sql + f"SELECT {', '.join(counts)}", dates)


@attrs.frozen
class Counts:
    rows: int
    zero_dates: Mapping[str, int]
    bad_dates: Mapping[str, int]


class ExportStream:
    """One run of the client on an ``Export``. Its bytes reach the file one of two ways: a writer in this process
    claims the stream (``exports.Handoff``) and ``write_into`` splices the client's pipe into its file in the kernel,
    or ``chunks()`` yields them to be sent as batches. Either way ``counts`` is set once they ended properly, else
    ``error`` says why; ``kill`` ends the client (the cancel hook), ``close`` also releases the pipes."""

    def __init__(self, binary: str, p: Mapping[str, Any], export: Export):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
        env["MYSQL_PWD"] = str(p.get("password") or "")
        self.export = export
        self.counts: Counts | None = None
        self.error: StepError | None = None
        self.out_failed = False  # write_into raised: the writer fails with its own error (disk full, ...)
        self.done = threading.Event()
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close(); client messages only)
        args = mysqlcli.command(binary, p, export.sql)
        args.insert(args.index("--batch") + 1, "--raw")
        pipe = subprocess.PIPE
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=pipe, stderr=self._stderr, env=env)
        with contextlib.suppress(Exception):  # a larger pipe: fewer switches between the client and the splice
            fcntl.fcntl(self.proc.stdout.fileno(), _F_SETPIPE_SZ, CHUNK)  # type: ignore[union-attr]

    def _error(self) -> str:
        self._stderr.seek(0)
        return mysqlcli.client_error(self._stderr.read().decode("utf-8", "replace"), self.proc.returncode)

    def started(self) -> bool:
        """Wait for the first output byte; False when the client ended without output and with an error."""
        stdout = self.proc.stdout
        assert stdout is not None
        return bool(stdout.peek(1)) or self.proc.wait() == 0  # type: ignore[attr-defined]

    def chunks(self) -> Iterator[bytes]:
        """The rows' bytes as they arrive, the counts line held back; raises StepError when the client fails or
        its output does not end with the counts line."""
        stdout = self.proc.stdout
        assert stdout is not None
        read = stdout.read  # blocks for a whole chunk: few, large batches (a pipe read returns a few KiB)
        held = b""
        while chunk := read(CHUNK):
            data = held + chunk if held else chunk
            cut = max(len(data) - _TAIL, 0)
            if cut:
                yield data[:cut]
            held = data[cut:]
        if self.proc.wait() != 0:
            raise StepError(self._error(), retryable=False)
        end = self._read_counts(held, whole=True)
        if end > 0:
            yield held[:end]

    def _read_counts(self, tail: bytes, whole: bool) -> int:
        """Set ``counts`` from the last line of ``tail`` (the output's end; ``whole``: all of it); where the rows
        end in it. Raises StepError when the output does not end with the counts line."""
        end = tail.rfind(b"\n", 0, len(tail) - 1)
        last = tail[end + 1 : -1].split(b"\t")
        complete = tail.endswith(b"\n") and (end >= 0 or whole)
        if not complete or len(last) != 1 + 2 * len(self.export.dates) or not all(map(bytes.isdigit, last)):
            raise StepError("the MySQL client's output ended without its row count: the export is incomplete")
        numbers = [int(v) for v in last]
        names = [name for _, name in self.export.dates]
        self.counts = Counts(
            numbers[0],
            {n: z for n, z in zip(names, numbers[1::2], strict=True) if z},
            {n: b for n, b in zip(names, numbers[2::2], strict=True) if b},
        )
        return end + 1

    def write_into(self, out: BinaryIO) -> None:
        """``exports.Handoff``: the client's output from here on goes into ``out`` at its position (spliced pipe
        -> file, never through Python), then the counts line is cut off the file's end. A client failure or an
        incomplete output is kept in ``error`` for the extractor to report; a failure of ``out`` is raised."""
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            base = out.tell()
            out.write(stdout.read1())  # type: ignore[attr-defined]  # what started() buffered
            out.flush()
            _pipe_to_file(stdout, out)
            if self.proc.wait() != 0:
                self.error = StepError(self._error(), retryable=False)
                return
            size = os.fstat(out.fileno()).st_size  # (out.tell() does not see the spliced bytes)
            start = max(base, size - _TAIL)
            try:
                end = start + self._read_counts(os.pread(out.fileno(), size - start, start), whole=start == base)
            except StepError as exc:
                self.error = exc
                return
            out.seek(end)
            out.truncate()
        except BaseException:
            self.out_failed = True
            self.kill()
            raise
        finally:
            self.done.set()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self._stderr):
            with contextlib.suppress(Exception):
                f.close()  # type: ignore[union-attr]


_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
_SPLICE = getattr(os, "splice", None)  # Linux; elsewhere the bytes are copied in CHUNK reads


def _pipe_to_file(pipe: IO[bytes], out: BinaryIO) -> None:
    """Move everything the pipe still gives into ``out`` at its (flushed) position, in the kernel when it can."""
    src, dst = pipe.fileno(), out.fileno()
    if _SPLICE is not None:
        moved = 0
        try:
            while n := _SPLICE(src, dst, CHUNK):
                moved += n
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL or moved:
                raise  # EINVAL before any byte moved: a file system without splice; copy below
    while chunk := pipe.read(CHUNK):
        out.write(chunk)
    out.flush()
