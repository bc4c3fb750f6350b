"""Reading a CSV file exactly as planned, shared by the compiler (infer_schemas) and the run (driver.py).

The compiler records a *read plan* in the step's config (key ``read_plan``, docs/runtime.md "CSV reading"):

    {"delimiter": ";", "quote": "\\"", "header": true, "skip_rows": 0, "null_values": ["", "NA"],
     "encoding": "utf-8", "compression": null, "comment": null, "skip_blank_lines": true,
     "date_format": "%d/%m/%Y", "timestamp_format": null, "true_values": [...], "false_values": [...],
     "columns": [{"header": " id", "name": "id", "type": "int64"}, ...]}

``columns`` lists every column of the file in order: the header cell as written, the output name (``rules.names``:
the one naming rule) and the logical type. The run parses every field as text with pyarrow's CSV reader using
exactly this dialect, then converts each column to its planned type; a value that does not convert fails the run
naming the file, row, column and value. Nothing here imports the compiler or the runtime.
"""

from __future__ import annotations

import bz2
import codecs
import io
import lzma
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow._compute as kernels
import pyarrow.csv as pacsv

from osiris.components.filesystem_csv_extractor.rules import (
    BLOCK_SIZE,
    ENCODINGS,
    FALSE_VALUES,
    TRUE_VALUES,
    CsvError,
    compression_of,
)
from osiris.dialects.types import TypeParseError, parse_type, to_arrow


def open_bytes(path: Path, compression: str | None) -> Any:
    """The file's decompressed bytes as a readable stream."""
    codec = compression_of(path, compression)
    if codec is None:
        return pa.OSFile(str(path), "rb")
    if codec in ("gzip", "zstd"):
        return pa.CompressedInputStream(pa.OSFile(str(path), "rb"), codec)
    if codec == "bz2":
        return bz2.open(str(path), "rb")  # pyarrow builds often lack the bz2 codec
    if codec == "xz":
        return lzma.open(str(path), "rb")
    if codec == "zip":
        archive = zipfile.ZipFile(str(path))
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise CsvError(f"zip archive '{path.name}' must hold exactly one file (has {len(members)})")
        return archive.open(members[0])
    raise CsvError(f"unknown compression '{codec}'")


class CommentFilter:
    """Drops the lines that start with ``comment`` outside quoted fields, streaming chunk by chunk.

    It follows the reader's quoting exactly: a quote opens a quoted field only at the start of a field (elsewhere
    it is data), a doubled quote inside one is data, so a line inside a quoted value that starts with the comment
    character is kept. One step per field (regex searches, no per-byte Python)."""

    def __init__(self, comment: str, quote: str, delimiter: str):
        self._c = ord(comment.encode()[:1])
        self._q = ord(quote.encode()[:1]) if quote else -1
        self._d = ord(delimiter.encode()[:1])
        self._stop = re.compile(b"[" + re.escape(delimiter.encode()) + rb"\r\n]")
        self._eol = re.compile(rb"[\r\n]")
        self._marks = re.compile(rb"[\r\n]" + re.escape(comment.encode()[:1]))
        self._in_quotes = self._skipping = self._drop_lf = self._maybe_doubled = False
        self._line_start = self._field_start = True
        self._next_mark = -1

    def _quote_free_lines(self, chunk: bytes, i: int) -> int:
        """From a line start outside quotes: the next place the field-by-field walk must resume, skipping whole
        lines without a quote (the next comment line's start, or the start of the next line with a quote)."""
        n = len(chunk)
        if self._next_mark < i:
            mark = self._marks.search(chunk, i)
            self._next_mark = mark.start() + 1 if mark else n
        quote = chunk.find(self._q, i, self._next_mark) if self._q >= 0 else -1
        if quote < 0:
            return self._next_mark
        return max(chunk.rfind(b"\n", i, quote), chunk.rfind(b"\r", i, quote)) + 1

    def __call__(self, chunk: bytes) -> bytes:  # noqa: C901 — one scanner loop: its states share i/keep/out
        out: list[bytes] = []
        i, keep, n = 0, 0, len(chunk)
        self._next_mark = -1
        if self._drop_lf and chunk[:1] == b"\n":
            i = keep = 1
        if self._maybe_doubled and chunk[:1] == bytes([self._q]):
            self._in_quotes, i = True, 1  # the quote that ended the last chunk was the first of a doubled pair
        self._drop_lf = self._maybe_doubled = False
        while i < n:
            if self._skipping:
                eol = self._eol.search(chunk, i)
                if eol is None:
                    i = keep = n
                    break
                end = eol.end()
                if chunk[end - 1] == 13:
                    if end == n:
                        self._drop_lf = True
                    elif chunk[end] == 10:
                        end += 1
                i = keep = end
                self._skipping, self._line_start, self._field_start = False, True, True
                continue
            if self._in_quotes:
                j = chunk.find(self._q, i)
                if j < 0:
                    i = n
                    break
                if j + 1 < n and chunk[j + 1] == self._q:
                    i = j + 2
                    continue
                self._in_quotes, self._field_start, self._maybe_doubled = False, False, j + 1 == n
                i = j + 1
                continue
            if self._line_start and chunk[i] == self._c:
                out.append(chunk[keep:i])
                self._skipping = True
                continue
            if self._line_start:
                jump = self._quote_free_lines(chunk, i)
                if jump > i:
                    i = jump
                    if i == n:
                        self._line_start = chunk[n - 1] in (10, 13)
                        self._field_start = self._line_start or chunk[n - 1] == self._d
                    continue
            if self._field_start and chunk[i] == self._q:
                self._in_quotes, self._line_start = True, False
                i += 1
                continue
            stop = self._stop.search(chunk, i)
            if stop is None:
                self._line_start = self._field_start = False
                i = n
                break
            j = stop.start()
            self._line_start = chunk[j] in (10, 13)
            self._field_start = True
            i = j + 1
        out.append(chunk[keep:n] if not self._skipping else b"")
        return b"".join(out)


class Blocks(io.RawIOBase):
    """The bytes pyarrow parses, as UTF-8, handed out so that no read ends with CR (unless at the end of the file).

    pyarrow's reader drops an LF that starts a block when the previous block ended with CR, even inside a quoted
    field (a CRLF in a value loses its LF when it straddles blocks); holding a final CR back for the next read
    keeps every CRLF inside one block. A last line without its newline gets one (pyarrow reads no column from a
    header-only file without it). Other encodings are decoded here (pyarrow's own transcoding would cut
    blocks again), then the comment filter applies."""

    def __init__(self, raw: Any, encoding: str, keep: Callable[[bytes], bytes] | None = None):
        self._raw = raw
        self._decoder = None if encoding in ENCODINGS else codecs.getincrementaldecoder(encoding)()
        self._keep = keep
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._open_line = False  # the text so far ends inside a line (the file's last line may lack its newline)

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        chunk = self._raw.read(BLOCK_SIZE)
        data = bytes(chunk) if chunk else b""
        if self._decoder is not None:
            data = self._decoder.decode(data, final=not chunk).encode("utf-8")
        if not chunk:
            self._eof = True
        if data and self._keep is not None:
            data = self._keep(data)
        if data:
            self._open_line = data[-1] not in (10, 13)
        if self._eof and self._open_line:  # pyarrow finds no column in a header whose newline is missing
            data, self._open_line = data + b"\n", False
        if data:
            self._buf = self._buf[self._pos :] + data
            self._pos = 0

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while not self._eof and len(self._buf) - self._pos <= want:  # one byte beyond: is a final CR followed?
            self._fill()
        n = min(want, len(self._buf) - self._pos)
        if n > 1 and self._buf[self._pos + n - 1] == 13 and self._pos + n < len(self._buf):
            n -= 1
        buffer[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_text(path: Path, plan: Mapping[str, Any]) -> Blocks:
    """The UTF-8 stream pyarrow parses: decompressed, decoded, comment lines dropped, CRLF never split."""
    comment = plan.get("comment")
    quote, delimiter = str(plan.get("quote") or ""), str(plan.get("delimiter", ","))
    keep = CommentFilter(str(comment), quote, delimiter) if comment else None
    return Blocks(open_bytes(path, plan.get("compression")), str(plan.get("encoding", "utf-8")).lower(), keep)


# --------------------------------------------------------------------------- pyarrow options


def parse_options(plan: Mapping[str, Any]) -> pacsv.ParseOptions:
    quote = str(plan.get("quote") or "")
    return pacsv.ParseOptions(
        delimiter=str(plan["delimiter"]),
        quote_char=quote or False,
        double_quote=True,
        escape_char=False,
        newlines_in_values=bool(quote),
        ignore_empty_lines=bool(plan.get("skip_blank_lines", True)),
    )


def read_header(path: Path, plan: Mapping[str, Any]) -> list[str]:
    """The header cells (or, without a header, one empty cell per column of the first row), parsed as the run
    parses the file. An empty file has none."""
    header = bool(plan.get("header", True))
    read = pacsv.ReadOptions(
        skip_rows=int(plan.get("skip_rows", 0)),
        autogenerate_column_names=not header,
        block_size=BLOCK_SIZE,
    )
    source = open_text(path, plan)
    try:
        reader = pacsv.open_csv(source, read_options=read, parse_options=parse_options(plan))
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return []
        raise CsvError(f"cannot read '{path.name}': {parse_problem(path, plan, exc)}") from None
    except UnicodeDecodeError as exc:
        raise CsvError(f"cannot read '{path.name}': {exc}") from None
    finally:
        source.close()
    return list(reader.schema.names) if header else [""] * len(reader.schema.names)


_PARSE_ERROR = re.compile(r"CSV parse error: (?:Row #(\d+): )?Expected (\d+) columns, got (\d+): (.*)", re.S)


def parse_problem(path: Path, plan: Mapping[str, Any], exc: Exception) -> str:
    """What is wrong with ``path`` when pyarrow cannot parse it, naming the record where it can.

    pyarrow numbers the record of a column-count error only when it parses on one thread, so after such an error
    (only then) the file is parsed again that way, converting no column, to find it. Records count from the file's
    first line, header and skipped rows included; a quoted value spanning lines is one record. With a ``comment``
    character the dropped lines would shift the count, so no number is given then."""
    text = str(exc)
    found = _PARSE_ERROR.search(text)
    if found is None:
        return text
    if found.group(1) is None and not plan.get("comment"):
        again = _PARSE_ERROR.search(_single_threaded_parse(path, plan) or "")
        found = again if again is not None and again.group(1) is not None else found
    record, expected, got, row = found.groups()
    where = f"record {int(record):,}" if record and not plan.get("comment") else "a record"
    shown = row if len(row) <= 60 else row[:57] + "..."
    return (
        f"{where} has {got} fields where the header has {expected} ({shown!r}): a line break (LF, CR or CRLF) or "
        f"the delimiter inside a value must be quoted"
    )


def _single_threaded_parse(path: Path, plan: Mapping[str, Any]) -> str | None:
    """pyarrow's message for the first parse error of the file read on one thread (None: it parsed)."""
    read = pacsv.ReadOptions(
        skip_rows=int(plan.get("skip_rows", 0)),
        autogenerate_column_names=not bool(plan.get("header", True)),
        block_size=BLOCK_SIZE,
        use_threads=False,
    )
    nothing = pacsv.ConvertOptions(include_columns=["\0"], include_missing_columns=True)  # parse, convert nothing
    source = open_text(path, plan)
    try:
        for _ in pacsv.open_csv(source, read_options=read, parse_options=parse_options(plan), convert_options=nothing):
            pass
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        return str(exc)
    finally:
        source.close()
    return None


def open_reader(path: Path, plan: Mapping[str, Any], keep: Sequence[str] = ()) -> tuple[Any, Any]:
    """pyarrow's streaming reader over the data rows, every column as text, and the source to close."""
    header = bool(plan.get("header", True))
    cols = [c["name"] for c in plan["columns"]]
    read = pacsv.ReadOptions(
        skip_rows=int(plan.get("skip_rows", 0)),
        skip_rows_after_names=1 if header else 0,
        column_names=cols,
        block_size=BLOCK_SIZE,
    )
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in cols},
        null_values=list(plan.get("null_values", [""])),
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        include_columns=list(keep),
    )
    source = open_text(path, plan)
    try:
        reader = pacsv.open_csv(source, read_options=read, parse_options=parse_options(plan), convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        source.close()
        if "Empty CSV file" in str(exc):
            return None, None
        raise CsvError(f"cannot read '{path.name}': {parse_problem(path, plan, exc)}") from None
    return reader, source


def header_difference(found: Sequence[str], planned: Sequence[str]) -> str:
    """'' when equal, else what differs, e.g. ``column 2 is 'ID' (planned 'id')``."""
    if list(found) == list(planned):
        return ""
    if len(found) != len(planned):
        missing = [c for c in planned if c not in found]
        extra = [c for c in found if c not in planned]
        parts = [f"{len(found)} columns (planned {len(planned)})"]
        if missing:
            parts.append("missing " + ", ".join(repr(c) for c in missing))
        if extra:
            parts.append("new " + ", ".join(repr(c) for c in extra))
        return "; ".join(parts)
    diffs = [
        f"column {i + 1} is {f!r} (planned {p!r})"
        for i, (f, p) in enumerate(zip(found, planned, strict=True))
        if f != p
    ]
    return "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")


# --------------------------------------------------------------------------- values


def _call(name: str, *args: Any, options: Any = None) -> Any:
    """Arrow compute function ``name``. Called through ``pyarrow._compute`` because ``pyarrow.compute`` spends
    ~30 ms of every ``osirisc check`` generating wrappers and docstrings for ~300 functions (the check reads a CSV
    file's first block with these converters); the kernels are the same."""
    return kernels.call_function(name, list(args), options)


def _trim(arr: pa.Array) -> pa.Array:
    return _call("utf8_trim_whitespace", arr)


def _to(arr: pa.Array, target: pa.DataType) -> pa.Array:
    return _call("cast", arr, options=kernels.CastOptions.safe(target))


def _trimmed(arr: pa.Array) -> pa.Array:
    return _call("replace_substring_regex", _trim(arr), options=kernels.ReplaceSubstringOptions(r"^\+", ""))


def _cast(target: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    def convert(arr: pa.Array) -> pa.Array:
        try:
            return _to(arr, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _to(_trimmed(arr), target)  # DuckDB accepts " 12" and "+12"

    return convert


def _parsed(fmt: str, unit: str, target: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    options = kernels.StrptimeOptions(fmt, unit, error_is_null=True)

    def convert(arr: pa.Array) -> pa.Array:
        out = _call("strptime", _trim(arr), options=options)
        if out.null_count != arr.null_count:
            raise ValueError("does not match the format")
        return _to(out, target)

    return convert


def _time(arr: pa.Array) -> pa.Array:
    stamps = _call("binary_join_element_wise", pa.scalar("1970-01-01 "), _trim(arr), pa.scalar(""))
    return _to(_to(stamps, pa.timestamp("us")), pa.time64("us"))


def _boolean(true_values: Sequence[str], false_values: Sequence[str]) -> Callable[[pa.Array], pa.Array]:
    trues = kernels.SetLookupOptions(pa.array([v.lower() for v in true_values], pa.string()))
    falses = kernels.SetLookupOptions(pa.array([v.lower() for v in false_values], pa.string()))

    def convert(arr: pa.Array) -> pa.Array:
        lower = _call("utf8_lower", arr)
        is_true = _call("is_in", lower, options=trues)
        known = _call("or", is_true, _call("is_in", lower, options=falses))
        missing = _call("is_null", arr)
        if not _call("all", _call("or", known, missing)).as_py():
            raise ValueError("not a boolean")
        return _call("if_else", missing, pa.scalar(None, pa.bool_()), is_true)

    return convert


def converter(type_text: str, plan: Mapping[str, Any]) -> Callable[[pa.Array], pa.Array] | None:
    """How a text column becomes ``type_text`` (None for text); raises ``CsvError`` for an unknown type."""
    try:
        name = parse_type(type_text).name
        target = to_arrow(type_text)
    except (TypeParseError, KeyError):
        raise CsvError(f"unknown type '{type_text}'") from None
    if name == "string":
        return None
    if name == "bool":
        return _boolean(plan.get("true_values", TRUE_VALUES), plan.get("false_values", FALSE_VALUES))
    if name == "date" and plan.get("date_format"):
        return _parsed(str(plan["date_format"]), "s", target)
    if name == "timestamp" and plan.get("timestamp_format"):
        return _parsed(str(plan["timestamp_format"]), "us", target)
    if name == "time":
        return _time
    return _cast(target)


def _fails(convert: Callable[[pa.Array], pa.Array], arr: pa.Array) -> bool:
    try:
        convert(arr)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return True
    return False


def first_bad(convert: Callable[[pa.Array], pa.Array], arr: pa.Array) -> int:
    """The index of the first value ``convert`` rejects (binary search: only used once a column failed)."""
    lo, hi = 0, len(arr)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _fails(convert, arr.slice(lo, mid - lo)):
            hi = mid
        else:
            lo = mid
    return lo


class Converter:
    """Turns the reader's text batches into planned types, counting rows for error messages."""

    def __init__(self, path_label: str, plan: Mapping[str, Any], schema: pa.Schema):
        self.label = path_label
        by_name = {c["name"]: c for c in plan["columns"]}
        self.types = [str(by_name[n]["type"]) for n in schema.names]
        self.converters = [converter(t, plan) for t in self.types]
        self.schema = pa.schema(
            [pa.field(n, to_arrow(t)) for n, t in zip(schema.names, self.types, strict=True)],
        )
        self.rows = 0

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = []
        for i, convert in enumerate(self.converters):
            arr = batch.column(i)
            if convert is None:
                arrays.append(arr)
                continue
            try:
                arrays.append(convert(arr))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                bad = first_bad(convert, arr)
                raise CsvError(
                    f"'{self.label}' row {self.rows + bad + 1}, column '{batch.schema.names[i]}': "
                    f"value {arr[bad].as_py()!r} does not read as {self.types[i]} (the type planned at build time)"
                ) from None
        self.rows += batch.num_rows
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def batches(
    reader: Any, convert: Converter, label: str, path: Path, plan: Mapping[str, Any]
) -> Iterator[pa.RecordBatch]:
    """The reader's batches, converted; a parse error becomes ``CsvError``."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            problem = parse_problem(path, plan, exc)
            raise CsvError(f"'{label}' after row {convert.rows}: {problem}") from None
        yield convert(batch)


def check_sample(path: Path, plan: Mapping[str, Any]) -> None:
    """Read the file's first block as the run will (build time): raises ``CsvError`` naming the first value that
    does not convert to its planned type."""
    reader, source = open_reader(path, plan)
    if reader is None:
        return
    try:
        convert = Converter(path.name, plan, reader.schema)
        next(batches(reader, convert, path.name, path, plan), None)
    finally:
        source.close()
