"""filesystem.csv_writer: write the input incrementally with pyarrow's CSV writer, atomically.

Rows go to a temporary file next to the target, renamed over it only after the last batch: a failed run never
leaves half a file and keeps any previous file. NULL is an empty unquoted field and the empty string is ``""``
(string values are always quoted with ``quoting: minimal``, so the two stay distinct and the text ``NULL`` stays
text); ``quoting: none`` cannot tell them apart. Column order is the input's, or ``columns`` when given.
Values are written exactly: decimals in plain notation (``0.000000000000000000000000000000``, never ``0E-30``;
with a scale above 6 they are written as text, so ``minimal`` quotes them), bytes as lowercase hex.
"""

from __future__ import annotations

import bz2
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from osiris.dialects.exact import decimal_text
from osiris.runtime import incremental
from osiris.runtime.driver import StepContext, StepError, single_input
from osiris.runtime.files import Transcoder, atomic_output, compression_of, resolve_path

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
        options = pacsv.WriteOptions(
            include_header=bool(cfg.get("header", True)),
            delimiter=str(cfg.get("delimiter", ",")),
            quoting_style=_QUOTING[str(cfg.get("quoting", "minimal"))],
            eol="\r\n" if cfg.get("newline") == "crlf" else "\n",
        )
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
