"""filesystem.csv_extractor: stream a CSV file as Arrow batches with pyarrow's C++ reader.

When the file existed at build time the plan carries a ``read_plan`` (reading.py): the run parses with exactly
that dialect, checks the header is the planned one, names the columns as planned and converts each to its planned
type, failing with file, row, column and value when one does not convert. Otherwise (the file appears only at
run time) the dialect comes from the config, names follow the same rule and types come from the plan's ``schema``
and ``dtype``; other columns are inferred by pyarrow from the first block (``parse_dates: false`` keeps
date-looking columns as text).

NULL and empty string (the same convention as filesystem.csv_writer): an empty *unquoted* field is NULL, a quoted
empty field ``""`` is the empty string, and every other text (including ``NULL``) is data, unless listed in
``na_values``. In a one-column file a NULL row is a blank line, so read such files with ``skip_blank_lines:
false``. Quoted fields may hold delimiters, newlines and doubled quotes; backslashes are ordinary characters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from osiris.components.filesystem_csv_extractor import reading, rules
from osiris.dialects.types import TypeParseError, to_arrow
from osiris.runtime import incremental
from osiris.runtime.driver import StepContext, StepError
from osiris.runtime.files import resolve_path


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx
        self.config = ctx.config

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        cursor = incremental.source_cursor(self.ctx)  # incremental: only the rows past the mark (filtered here)
        return (
            self._read() if cursor is None else cursor.track(self.ctx, cursor.filter_reader(self._read()), query=None)
        )

    def _read(self) -> pa.RecordBatchReader:
        cfg = self.config
        path = resolve_path(self.ctx, str(cfg["path"]))
        if not path.is_file():
            raise StepError(f"CSV file '{cfg['path']}' does not exist (looked at {path})")
        try:
            planned = cfg.get("read_plan")
            if isinstance(planned, Mapping):
                return self._planned(path, planned)
            return self._unplanned(path)
        except rules.CsvError as exc:
            raise StepError(str(exc)) from None

    def _planned(self, path: Path, plan: Mapping[str, Any]) -> pa.RecordBatchReader:
        label = str(self.config["path"])
        if plan.get("header", True):
            found = reading.read_header(path, plan)
            diff = reading.header_difference(found, [c["header"] for c in plan["columns"]])
            if diff:
                raise StepError(
                    f"CSV file '{label}' has another header than at build time: {diff}; rebuild to plan the new one"
                )
        keep = list(self.config.get("columns") or [])
        reader, source = reading.open_reader(path, plan, keep)
        if reader is None:  # a file without data rows (and, with header: false, without a row at all)
            schema = (self.step.get("schema") or {}).get("columns", [])
            empty = pa.schema([(c["name"], to_arrow(c["type"])) for c in schema])
            return pa.RecordBatchReader.from_batches(empty, iter(()))
        convert = reading.Converter(label, plan, reader.schema)
        return self._stream(convert.schema, reading.batches(reader, convert, label, path, plan), source)

    def _types(self, names: list[str]) -> dict[str, pa.DataType]:
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
        return {k: v for k, v in types.items() if k in names}

    def _unplanned(self, path: Path) -> pa.RecordBatchReader:
        cfg = self.config
        dialect = rules.config_dialect(cfg)
        cells = reading.read_header(path, dialect)
        if not cells:
            return pa.RecordBatchReader.from_batches(pa.schema([]), iter(()))
        names = rules.names(cells)
        types = self._types(names)
        reader, source = self._open_unplanned(path, dialect, names, types)
        dates = cfg.get("parse_dates")
        if dates is not True and dates is not None:
            # parse_dates false or a list: date-looking columns not asked for stay text
            texts = {f.name: pa.string() for f in reader.schema if f.name not in types and pa.types.is_temporal(f.type)}
            if texts:
                source.close()
                reader, source = self._open_unplanned(path, dialect, names, {**types, **texts})
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in reader.schema])
        label = str(cfg["path"])
        return self._stream(schema, self._cast(reader, schema, label, path, dialect), source)

    def _open_unplanned(
        self, path: Path, dialect: dict[str, Any], names: list[str], types: dict[str, pa.DataType]
    ) -> tuple[Any, Any]:
        read = pacsv.ReadOptions(
            skip_rows=dialect["skip_rows"],
            skip_rows_after_names=1 if dialect["header"] else 0,
            column_names=names,
            block_size=rules.BLOCK_SIZE,
        )
        convert = pacsv.ConvertOptions(
            column_types=types,
            null_values=dialect["null_values"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=list(self.config.get("columns") or []),
        )
        source = reading.open_text(path, dialect)
        try:
            reader = pacsv.open_csv(
                source, read_options=read, parse_options=reading.parse_options(dialect), convert_options=convert
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            source.close()
            problem = reading.parse_problem(path, dialect, exc)
            raise StepError(f"cannot read CSV file '{self.config['path']}': {problem}") from None
        return reader, source

    @staticmethod
    def _cast(
        reader: Any, schema: pa.Schema, label: str, path: Path, dialect: dict[str, Any]
    ) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise StepError(f"CSV file '{label}': {reading.parse_problem(path, dialect, exc)}") from None
            yield batch.cast(schema) if batch.schema != schema else batch

    def _stream(self, schema: pa.Schema, source_batches: Iterator[pa.RecordBatch], source: Any) -> Any:
        limit = self.config.get("limit")
        size = int(self.config.get("batch_size") or self.config.get("chunk_size") or self.ctx.batch_size)
        return pa.RecordBatchReader.from_batches(schema, self._batches(source_batches, source, limit, size))

    @staticmethod
    def _batches(
        source_batches: Iterator[pa.RecordBatch], source: Any, limit: int | None, size: int
    ) -> Iterator[pa.RecordBatch]:
        left = limit
        try:
            for whole in source_batches:
                batch = whole if left is None else whole.slice(0, left)
                if left is not None:
                    left -= batch.num_rows
                for start in range(0, batch.num_rows, size):
                    yield batch.slice(start, size)
                if left is not None and left <= 0:
                    return
        except rules.CsvError as exc:
            raise StepError(str(exc)) from None
        finally:
            source.close()
