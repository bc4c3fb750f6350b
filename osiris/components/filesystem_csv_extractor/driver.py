"""filesystem.csv_extractor: stream a CSV file as Arrow batches with pyarrow's C++ reader.

NULL and empty string (the same convention as filesystem.csv_writer): an empty *unquoted* field is NULL, a quoted
empty field ``""`` is the empty string, and every other text (including ``NULL``) is data, unless listed in
``na_values``. In a one-column file a NULL row is a blank line, so read such files with ``skip_blank_lines:
false``. Quoted fields may hold delimiters, newlines and doubled quotes; backslashes are ordinary characters.
Column types come from the plan's ``schema`` (inferred or declared at build time) and ``dtype``; columns without a
type are inferred from the first block, and all-empty columns are read as strings.
"""

from __future__ import annotations

import bz2
import lzma
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from osiris.dialects.types import TypeParseError, to_arrow
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.files import compression_of, resolve_path

_ENCODINGS = {"utf-8": "utf8", "utf-8-sig": "utf8", "ascii": "utf8"}


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx
        self.config = ctx.config

    def _column_types(self) -> dict[str, pa.DataType]:
        types: dict[str, pa.DataType] = {}
        schema = self.step.get("schema") or {}
        items = [(c["name"], c["type"]) for c in schema.get("columns", [])]
        items += list((self.config.get("dtype") or {}).items())
        for name, text in items:
            try:
                types[name] = to_arrow(str(text))
            except (TypeParseError, KeyError):
                raise StepError(f"column '{name}': unknown type '{text}'") from None
        dates = self.config.get("parse_dates")
        if isinstance(dates, list):
            for name in dates:
                types.setdefault(name, pa.timestamp("us"))
        return types

    def _open(self, path: Any) -> Any:
        codec = compression_of(path, self.config.get("compression"))
        if codec in (None, "gzip", "bz2", "zstd"):
            raw = pa.OSFile(str(path), "rb")
            if codec == "bz2":
                return bz2.open(str(path), "rb")  # pyarrow builds often lack the bz2 codec
            return pa.CompressedInputStream(raw, codec) if codec else raw
        if codec == "xz":
            return lzma.open(str(path), "rb")
        if codec == "zip":
            archive = zipfile.ZipFile(str(path))
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise StepError(f"zip archive '{path.name}' must hold exactly one file (has {len(names)})")
            return archive.open(names[0])
        raise StepError(f"unknown compression '{codec}'")

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        cfg = self.config
        path = resolve_path(self.ctx, str(cfg["path"]))
        if not path.is_file():
            raise StepError(f"CSV file '{cfg['path']}' does not exist (looked at {path})")
        header = cfg.get("header", True)
        skip = int(cfg.get("skip_rows", 0)) + (header if isinstance(header, int) and header is not True else 0)
        encoding = str(cfg.get("encoding", "utf-8")).lower()
        read = pacsv.ReadOptions(
            skip_rows=skip,
            autogenerate_column_names=header is False,
            encoding=_ENCODINGS.get(encoding, encoding),
            block_size=1 << 20,
        )
        quoting = cfg.get("quoting", "minimal")
        parse = pacsv.ParseOptions(
            delimiter=str(cfg.get("delimiter", ",")),
            quote_char=False if quoting == "none" else '"',
            newlines_in_values=quoting != "none",
            ignore_empty_lines=bool(cfg.get("skip_blank_lines", True)),
        )
        if cfg.get("comment"):
            raise StepError("'comment' is not supported by this CSV reader; remove comment lines from the file")
        columns = list(cfg.get("columns") or [])
        convert = pacsv.ConvertOptions(
            column_types=self._column_types(),
            null_values=["", *cfg.get("na_values", [])],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=columns,
        )
        source = self._open(path)
        try:
            reader = pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            source.close()
            if "Empty CSV file" in str(exc):
                return pa.RecordBatchReader.from_batches(pa.schema([]), iter(()))
            raise StepError(f"cannot read CSV file '{cfg['path']}': {exc}") from None
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in reader.schema])
        limit = cfg.get("limit")
        size = int(cfg.get("batch_size") or cfg.get("chunk_size") or self.ctx.batch_size)
        return pa.RecordBatchReader.from_batches(schema, self._batches(reader, schema, source, limit, size))

    def _batches(
        self, reader: Any, schema: pa.Schema, source: Any, limit: int | None, size: int
    ) -> Iterator[pa.RecordBatch]:
        left = limit
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                    raise StepError(f"CSV file '{self.config['path']}': {exc}") from None
                if batch.schema != schema:
                    batch = batch.cast(schema)
                if left is not None:
                    batch = batch.slice(0, left)
                    left -= batch.num_rows
                for start in range(0, batch.num_rows, size):
                    yield batch.slice(start, size)
                if left is not None and left <= 0:
                    return
        finally:
            source.close()
