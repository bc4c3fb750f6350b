"""filesystem.csv_writer: write the input incrementally with pyarrow's CSV writer, atomically.

Rows go to a temporary file next to the target, renamed over it only after the last batch: a failed run never
leaves half a file and keeps any previous file. NULL is an empty unquoted field and the empty string is ``""``
(string values are always quoted with ``quoting: minimal``, so the two stay distinct and the text ``NULL`` stays
text); ``quoting: none`` cannot tell them apart. Column order is the input's, or ``columns`` when given.
Values are written exactly: decimals in plain notation (``0.000000000000000000000000000000``, never ``0E-30``;
with a scale above 6 they are written as text, so ``minimal`` quotes them), bytes as lowercase hex.

When the plan fused this writer with its extractor (``export`` in the plan entry) and the extractor sends an export
stream (osiris/runtime/exports.py), the rows arrive as the file's bytes, formatted by the source's server exactly as
above: the writer writes the header as pyarrow would and copies the bytes into the same temporary file.
"""

from __future__ import annotations

import bz2
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from osiris.dialects.exact import decimal_text
from osiris.runtime import exports, incremental
from osiris.runtime.driver import StepContext, StepError, single_input
from osiris.runtime.files import Transcoder, atomic_output, compression_of, resolve_path

HANDOFF_MESSAGE = "csv export: the source's client writes the rows straight into the file"
_QUOTING = {"minimal": "needed", "nonnumeric": "needed", "all": "all_valid", "none": "none"}


def _hex(arr: pa.Array) -> pa.Array:
    return pa.array([None if v is None else v.hex() for v in arr.to_pylist()], pa.string())


def _converter(typ: pa.DataType) -> Any:
    """How a column of ``typ`` becomes exact CSV text (None: Arrow's CSV writer formats it exactly itself)."""
    if pa.types.is_decimal(typ) and (typ.scale > 6 or typ.scale < 0):
        return decimal_text
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ):
        return _hex
    return None


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx
        self.config = ctx.config

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> None:
        reader = single_input(inputs, "filesystem.csv_writer")
        cfg = self.config
        path = resolve_path(self.ctx, str(cfg["path"]))
        schema = reader.schema
        options = pacsv.WriteOptions(
            include_header=bool(cfg.get("header", True)),
            delimiter=str(cfg.get("delimiter", ",")),
            quoting_style=_QUOTING[str(cfg.get("quoting", "minimal"))],
            eol="\r\n" if cfg.get("newline") == "crlf" else "\n",
        )
        if self.step.get("export") and exports.format_of(schema) == "csv":
            self._copy_export(reader, path, options)
            return
        columns = list(cfg.get("columns") or schema.names)
        twice = sorted({n for n in columns if schema.names.count(n) > 1})
        if twice:
            raise StepError(
                f"CSV '{cfg['path']}': the input has more than one column named {', '.join(map(repr, twice))}; "
                "give every column its own name"
            )
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise StepError(f"CSV '{cfg['path']}': columns not in the input: {', '.join(missing)}")
        convert = [_converter(schema.field(c).type) for c in columns]
        fields = [schema.field(c) for c in columns]
        out_schema = pa.schema([f.with_type(pa.string()) if c else f for f, c in zip(fields, convert, strict=True)])
        encoding = str(cfg.get("encoding", "utf-8")).lower()
        codec = compression_of(path, cfg.get("compression"))
        with incremental.commit_file(self.ctx, path), atomic_output(path, bool(cfg.get("create_dirs", True))) as tmp:
            if codec == "bz2":
                raw: Any = bz2.open(str(tmp), "wb")  # noqa: SIM115 - closed in the finally below
            else:
                raw = pa.OSFile(str(tmp), "wb")
                if codec:
                    raw = pa.CompressedOutputStream(raw, codec)
            sink = Transcoder(raw, encoding) if encoding not in ("utf-8", "utf8") else raw
            try:
                writer = pacsv.CSVWriter(sink, out_schema, write_options=options)
                for batch in reader:
                    out = batch
                    if batch.schema.names != columns or any(convert):
                        arrays = [batch.column(c) for c in columns]
                        arrays = [f(a) if f else a for a, f in zip(arrays, convert, strict=True)]
                        out = pa.RecordBatch.from_arrays(arrays, schema=out_schema)
                    writer.write_batch(out)
                    self.ctx.progress(out.num_rows, out.nbytes)
                writer.close()
            except pa.ArrowInvalid as exc:
                raise StepError(f"cannot write CSV '{cfg['path']}': {exc}") from None
            finally:
                if isinstance(sink, Transcoder):
                    sink.close()
                raw.close()

    def _copy_export(self, reader: pa.RecordBatchReader, path: Any, options: pacsv.WriteOptions) -> None:
        """Write an export stream: pyarrow's header for its columns, then the bytes: written by the source itself
        when this process can claim its export (``exports.Handoff``), else as they come in batches. The plan allows
        no compression and UTF-8 only here (osiris.dialects.csv.export_options)."""
        names = exports.columns_of(reader.schema)
        header = pa.BufferOutputStream()
        pacsv.CSVWriter(header, pa.schema([(n, pa.string()) for n in names]), write_options=options).close()
        with (
            incremental.commit_file(self.ctx, path),
            atomic_output(path, bool(self.config.get("create_dirs", True))) as tmp,
            open(tmp, "w+b") as out,  # noqa: PTH123 - plain and buffered (no codec); readable for the handoff
        ):
            out.write(header.getvalue())
            token = exports.handoff_of(reader.schema)
            handoff = exports.claim(token) if token is not None else None
            if handoff is not None:  # the source writes the rows into the file itself; the stream brings the count
                handoff.write_into(out)  # first: it sets the handoff's `done`, which the source waits for
                self.ctx.event("info", {"step": self.ctx.step_id, "message": HANDOFF_MESSAGE})
            for batch in reader:
                data = batch.column(0)
                for i in range(len(data)):
                    out.write(data[i].as_buffer())
                self.ctx.progress(exports.rows_of(batch), data.nbytes)
