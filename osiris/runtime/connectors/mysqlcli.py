"""The fastest MySQL read path: the ``mariadb``/``mysql`` command-line client piped into pyarrow's C++ CSV reader.

The client (a separate process, no GIL) runs ``--batch --quick`` and prints tab-separated text; pyarrow parses it
in C++ and the columns are converted with vectorised casts, so no Python object is made per value. ``--batch``
escapes NUL, tab, newline and backslash in values (``\\0 \\t \\n \\\\``) and prints ``NULL`` for NULL. So that the
output stays exact:

- a text column is selected as itself (the session's utf8mb4 result charset converts it) plus ``col IS NULL``,
  which tells SQL NULL from the text 'NULL'; values containing a backslash are unescaped (rare, per value);
- carriage returns, which the client leaves alone but the CSV parser would take for line ends, are escaped to
  ``\\r`` on the way in (``CrEscaper``), so every line is one row;
- binary columns are selected as ``HEX(...)`` and decoded with numpy; BIT is selected as ``col + 0``.

The password reaches the client only through its environment (``MYSQL_PWD``), never its command line or a file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from osiris.runtime.driver import StepError

CLIENTS = ("mariadb", "mysql")
MAX_BLOCK = 16 << 20  # largest CSV block (bytes); a row must fit in one, so wider tables use the driver paths
_ESCAPES = {"0": "\0", "t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def client_binary() -> str | None:
    """The command-line client to use, or None when neither ``mariadb`` nor ``mysql`` is on PATH."""
    override = os.environ.get("OSIRIS_MYSQL_CLIENT")
    if override is not None:
        return shutil.which(override) if override else None  # empty: the CLI path is switched off
    return next((found for name in CLIENTS if (found := shutil.which(name))), None)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def column_sql(name: str, kind: str) -> list[str]:
    """The select expressions for one column of the wrapped query (``kind``: text, binary, bit or plain); a text
    column brings its NULL indicator."""
    col = f"osiris_q.{_quote(name)}"
    if kind == "text":
        return [col, f"{col} IS NULL"]
    if kind == "binary":
        return [f"HEX({col})"]
    if kind == "bit":
        return [f"{col} + 0"]
    return [col]


_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def wrappable(query: str) -> bool:
    """Whether ``query`` keeps its meaning as a derived table: MariaDB drops an ORDER BY inside one, so a query
    with ORDER BY anywhere is left to the driver paths, which run it as written."""
    return not _ORDER_BY.search(query)


def wrapped_query(query: str, names: Sequence[str], kinds: Sequence[str]) -> str:
    exprs = ", ".join(e for n, k in zip(names, kinds, strict=True) for e in column_sql(n, k))
    return f"SELECT {exprs} FROM ({query}) AS osiris_q"


@functools.cache
def _hex_pairs() -> Any:
    """Two hex digits read as one little-endian uint16 -> their byte (-1: not hex)."""
    import numpy as np  # only binary columns need it; kept off the start-up path

    digits = {c: int(chr(c), 16) for c in b"0123456789ABCDEFabcdef"}
    pairs = np.full(65536, -1, dtype=np.int16)
    for a, va in digits.items():
        for b, vb in digits.items():
            pairs[a | b << 8] = va << 4 | vb
    return pairs


def unhex(arr: pa.Array) -> pa.Array:
    """Upper/lower-case hex strings -> binary, vectorised (NULLs kept). Raises ValueError on a non-hex value."""
    import numpy as np

    if arr.offset:
        arr = pa.concat_arrays([arr])  # a copy that starts at offset 0, so the validity bitmap lines up
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[: n + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.empty(0, np.uint8)
    if (np.diff(offsets) % 2).any():
        raise ValueError("odd-length hex value")
    decoded = _hex_pairs()[raw.view("<u2")]
    if decoded.size and decoded.min() < 0:
        raise ValueError("non-hex character in a hex value")
    halves = ((offsets - offsets[0]) // 2).astype(np.int32)
    buffers = [arr.buffers()[0], pa.py_buffer(halves), pa.py_buffer(decoded.astype(np.uint8))]
    return pa.Array.from_buffers(pa.binary(), n, buffers, null_count=arr.null_count)


def _unescape_value(text: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


@functools.cache
def _unescaped() -> Any:
    """The byte each escaped byte stands for (``\\x`` -> x for the bytes the client does not escape)."""
    import numpy as np  # only text holding a backslash needs it; kept off the start-up path

    table = np.arange(256, dtype=np.uint8)
    for key, value in _ESCAPES.items():
        table[ord(key)] = ord(value)
    return table


def unescape(values: pa.Array) -> pa.Array:
    """``_unescape_value`` of every value at once (numpy over the data buffer, no Python per value): the client
    escapes in pairs, so in a run of backslashes every other one, from the run's first, starts an escape (a value
    ends with an even run, so a run that goes on into the next value keeps its parity)."""
    import numpy as np

    if values.null_count or not len(values):
        return pa.array([None if v is None else _unescape_value(v) for v in values.to_pylist()], pa.string())
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    backslash = data == 92
    index = np.arange(data.size)
    run_start = np.maximum.accumulate(np.where(backslash & ~np.r_[False, backslash[:-1]], index, 0))
    starts = backslash & ((index - run_start) % 2 == 0)
    if starts[-1:].any():  # a value cannot end in the middle of an escape: leave such input to the slow path
        return pa.array([_unescape_value(v) for v in values.to_pylist()], pa.string())
    out = data.copy()
    after = np.flatnonzero(starts) + 1
    out[after] = _unescaped()[data[after]]
    removed = np.concatenate(([0], np.cumsum(starts, dtype=np.int64)))
    new_offsets = (offsets - removed[offsets]).astype(np.int32)
    kept = out[~starts]
    return pa.Array.from_buffers(pa.string(), len(values), [None, pa.py_buffer(new_offsets), pa.py_buffer(kept)])


def text_column(values: pa.Array, is_null: pa.Array) -> pa.Array:
    """A text column as the client printed it (``NULL`` parsed as null) and its ``IS NULL`` indicator -> the
    exact values: escapes undone, and the text 'NULL' told apart from SQL NULL."""
    data = values.buffers()[2]
    if data is not None and data.to_pybytes().find(b"\\") >= 0:  # a fast scan: backslashes are rare
        escaped = pc.fill_null(pc.match_substring(values, "\\"), False)  # only these values are rewritten
        values = pc.replace_with_mask(values, escaped, unescape(values.filter(escaped)))
    if values.null_count != pc.sum(is_null).as_py():  # a parsed null that is not NULL is the text 'NULL'
        values = pc.if_else(is_null, pa.scalar(None, pa.string()), pc.fill_null(values, "NULL"))
    return values


class CrEscaper:
    """A read-only file over the client's output that escapes carriage returns (``\\r``): the client prints them
    raw and the CSV parser would end a row at each one.

    Every read returns exactly ``size`` bytes until the output ends: escaping makes a chunk longer, and the excess
    is kept for the next read rather than returned as a short read on its own, because pyarrow's CSV reader takes
    each read as a block and fails on a block that holds no line end ("straddling object straddles two block
    boundaries")."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.closed = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            out, self._pending = self._pending + self._escaped(self.raw.read()), b""
            return out
        while len(self._pending) < size:
            chunk = self.raw.read(size - len(self._pending))  # a buffered pipe: short only at the end
            if not chunk:
                break
            self._pending += self._escaped(chunk)  # no copy when nothing is pending (the common case)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    @staticmethod
    def _escaped(chunk: bytes) -> bytes:
        return chunk.replace(b"\r", b"\\r") if b"\r" in chunk else chunk

    def close(self) -> None:
        self.closed = True


def command(binary: str, p: Mapping[str, Any], sql: str) -> list[str]:
    """The client's argument list: no option files (they could change the output format), TCP like the drivers."""
    args = [binary, "--no-defaults", "--batch", "--skip-column-names", "--quick", "--protocol=TCP",
            f"--host={p['host']}", f"--port={p['port']}", f"--user={p['user']}",
            "--default-character-set=utf8mb4", "--max-allowed-packet=1G",
            "--init-command=SET time_zone = '+00:00'"]  # fmt: skip
    if p.get("database"):
        args.append(f"--database={p['database']}")
    return [*args, "--execute", sql]


_CLIENT_ERROR = re.compile(r"^ERROR (\d+) \(\w+\)(?: at line \d+)?: (.*)$", re.MULTILINE)


def client_error(stderr: str, status: int | None) -> str:
    """The client's error as one line, ``<message> (MySQL/MariaDB error <code>)``: without the echo of the query
    between dashed lines that ``--batch`` prints before it."""
    found = _CLIENT_ERROR.findall(stderr)
    if found:
        code, message = found[-1]
        return f"{message.strip()} (MySQL/MariaDB error {code})"
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("---")]
    return lines[-1] if lines else f"the {CLIENTS[0]} client ended with exit status {status}"


class CliStream:
    """One run of the client: ``batches(kinds, schema, convert)`` yields Arrow batches; ``close`` ends the process."""

    def __init__(self, binary: str, p: Mapping[str, Any], sql: str, block_size: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
        env["MYSQL_PWD"] = str(p.get("password") or "")
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close(); unnamed, client messages only)
        self.block_size = block_size
        self.proc = subprocess.Popen(
            command(binary, p, sql), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, env=env
        )

    def _error(self) -> str:
        self._stderr.seek(0)
        return client_error(self._stderr.read().decode("utf-8", "replace"), self.proc.returncode)

    def started(self) -> bool:
        """Wait for the first output byte; False when the client ended without output and with an error."""
        stdout = self.proc.stdout
        assert stdout is not None
        if stdout.peek(1):  # type: ignore[attr-defined]
            return True
        return self.proc.wait() == 0  # no output: an empty result (status 0) or a failure

    def batches(self, schema: pa.Schema, kinds: Sequence[str], convert: Any) -> Iterator[pa.RecordBatch]:
        """Parse the client's output; ``convert(text_array, field, kind)`` turns a plain or BIT column into its
        Arrow type."""
        stdout = self.proc.stdout
        assert stdout is not None
        width = sum(2 if kind == "text" else 1 for kind in kinds)
        names = [f"c{i}" for i in range(width)]
        if stdout.peek(1):  # type: ignore[attr-defined]  # an empty result prints nothing at all
            reader = pacsv.open_csv(
                CrEscaper(stdout),
                read_options=pacsv.ReadOptions(column_names=names, block_size=self.block_size),
                parse_options=pacsv.ParseOptions(
                    delimiter="\t", quote_char=False, escape_char=False, double_quote=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), null_values=["NULL"], strings_can_be_null=True
                ),
            )
            for raw in reader:
                arrays = []
                i = 0
                for kind, field in zip(kinds, schema, strict=True):
                    col = raw.column(i)
                    i += 1
                    try:
                        if kind == "text":
                            col = text_column(col, pc.equal(raw.column(i), "1"))
                            i += 1
                        elif kind == "binary":
                            col = unhex(col)
                        else:
                            col = convert(col, field, kind)
                    except (ValueError, pa.ArrowInvalid) as exc:
                        raise StepError(f"column '{field.name}': cannot decode a value: {exc}") from None
                    arrays.append(col)
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        if self.proc.wait() != 0:
            raise StepError(self._error(), retryable=False)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self._stderr):
            with contextlib.suppress(Exception):
                f.close()  # type: ignore[union-attr]
