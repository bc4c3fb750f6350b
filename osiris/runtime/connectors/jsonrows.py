"""JSON objects from an API as exact Arrow batches: columns inferred from the first page, or declared.

Inference (no ``columns`` declared): the columns are the fields of the first page's rows in the order first seen
(nested objects flattened to ``parent.child`` when ``flatten``); a column's type is that of its first non-null
value there: bool, int64, float64, string, or json (objects and lists, as JSON text). A column null throughout the
first page is string, and any later value lands in it as text (JSON text for numbers, booleans and objects), so
nothing is lost. Later pages must fit: an int64 column receiving text, or a value in a field no earlier page had,
is a step error naming the field and page (declare ``columns`` to fix the shape). An object arriving where the
first page had null lands as JSON text in that column.

Declared columns win: each row gives exactly those columns (missing fields are null; a null in a ``nullable:
false`` column is an error), values are converted with Arrow's checked casts (ISO 8601 text to timestamp/date,
numbers to decimal, ...); fields not declared are left out and reported once in a ``fields_not_declared`` event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from osiris.dialects.types import TypeParseError, to_arrow
from osiris.runtime.driver import StepError

KIND_TYPES = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
JSON = "json"


@attrs.define
class Column:
    name: str
    kind: str  # bool | int64 | float64 | string | json | declared
    type: pa.DataType
    nullable: bool = True


def declared_columns(value: Any) -> list[Column] | None:
    """``columns`` of a config as Columns: ``[{name, type, nullable}]`` or ``{name: type}``; None when absent."""
    if not value:
        return None
    items = [{"name": k, "type": v} for k, v in value.items()] if isinstance(value, Mapping) else list(value)
    out = []
    for item in items:
        try:
            arrow = to_arrow(str(item["type"]))
        except TypeParseError as exc:
            raise StepError(f"declared column '{item['name']}': {exc}") from None
        kind = JSON if str(item["type"]).strip() == "json" else "declared"
        out.append(Column(str(item["name"]), kind, arrow, bool(item.get("nullable", True))))
    return out


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return JSON


class Rows:
    """Collects rows page by page and hands out RecordBatches of ``batch_size`` rows with one fixed schema."""

    def __init__(
        self,
        what: str,
        batch_size: int,
        *,
        declared: list[Column] | None = None,
        flatten: bool = True,
        event: Callable[[str, Mapping[str, Any]], None] = lambda kind, data: None,
    ):
        self.what = what
        self.batch_size = batch_size
        self.flatten = flatten
        self.event = event
        self.columns: list[Column] | None = None
        self._known: set[str] = set()
        self._parents: set[str] = set()
        if declared is not None:
            self._set_columns(declared)
        self.declared = declared is not None
        self.pending: list[dict[str, Any]] = []
        self.undeclared: set[str] = set()
        self.rows = 0

    @property
    def schema(self) -> pa.Schema:
        assert self.columns is not None, "schema asked before the first page"
        return pa.schema([pa.field(c.name, c.type, c.nullable) for c in self.columns])

    def add(self, objects: Sequence[Any], page: int) -> Iterator[pa.RecordBatch]:
        """Add one page of rows; yields the batches that are now full."""
        flat = [self._row(o) for o in objects]
        if self.columns is None:
            self._set_columns(self._infer(flat))
            flat = [self._row(o) for o in objects]  # again, now that null parents of columns are known
        names = self._known
        for row in flat:
            extra = {k for k in row.keys() - names if row[k] is not None}  # a null loses nothing
            if extra and self.declared:
                new = extra - self.undeclared
                if new:
                    self.undeclared |= new
                    self.event("fields_not_declared", {"fields": sorted(new), "page": page})
            elif extra:
                raise StepError(
                    f"{self.what}: field '{sorted(extra)[0]}' first appears on page {page}, after the columns were "
                    f"inferred from the first page; declare `columns` to extract it"
                )
        self.pending.extend(flat)
        while len(self.pending) >= self.batch_size:
            chunk, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
            yield self._batch(chunk, page)

    def finish(self, page: int) -> Iterator[pa.RecordBatch]:
        if self.columns is None:
            self._set_columns([])
        if self.pending:
            chunk, self.pending = self.pending, []
            yield self._batch(chunk, page)

    # ------------------------------------------------------------------ rows

    def _row(self, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, Mapping):
            return {"value": obj}
        if not self.flatten:
            return dict(obj)
        out: dict[str, Any] = {}
        self._flatten(obj, "", out)
        return out

    def _flatten(self, obj: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if name in self._known:
                out[name] = value  # a column (an object arriving here is kept as JSON text)
            elif isinstance(value, Mapping) and value:
                self._flatten(value, name + ".", out)
            elif name not in self._parents or (value is not None and value != {}):
                out[name] = value
            # else: a null parent of known columns: they are null in this row

    def _set_columns(self, columns: list[Column]) -> None:
        self.columns = columns
        self._known = {c.name for c in columns}
        self._parents = {n.rsplit(".", i)[0] for n in self._known for i in range(1, n.count(".") + 1)}

    def _infer(self, rows: list[dict[str, Any]]) -> list[Column]:
        kinds: dict[str, str | None] = {}
        for row in rows:
            for name, value in row.items():
                if kinds.get(name) is None:
                    kinds[name] = None if value is None else _kind_of(value)
        parents = {n.rsplit(".", i)[0] for n in kinds for i in range(1, n.count(".") + 1)}
        return [
            Column(name, kind or "string", pa.string() if kind in (None, JSON) else KIND_TYPES[kind])
            for name, kind in kinds.items()
            if not (kind is None and name in parents)  # null here, an object with columns elsewhere
        ]

    # ------------------------------------------------------------------ batches

    def _batch(self, rows: list[dict[str, Any]], page: int) -> pa.RecordBatch:
        assert self.columns is not None
        arrays = [self._array(c, [r.get(c.name) for r in rows], page) for c in self.columns]
        self.rows += len(rows)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _array(self, col: Column, values: list[Any], page: int) -> pa.Array:
        if not col.nullable and any(v is None for v in values):
            raise StepError(f"{self.what}: column '{col.name}' is declared nullable: false but is null (page {page})")
        if col.kind == JSON or (col.kind == "string" and pa.types.is_string(col.type)):
            return pa.array([None if v is None else json_text(v) for v in values], pa.string())
        if col.kind == "declared":
            return self._declared(col, values, page)
        bad = next((v for v in values if v is not None and not _fits(col.kind, v)), None)
        if bad is not None:
            raise StepError(
                f"{self.what}: field '{col.name}' holds {type(bad).__name__} {json_text(bad)[:40]!r} on page {page}, "
                f"but the first page made it {col.kind}; declare `columns` to give its type"
            )
        try:
            return pa.array(values, col.type)
        except (pa.ArrowInvalid, OverflowError) as exc:
            raise StepError(f"{self.what}: field '{col.name}' on page {page}: {exc}") from None

    def _declared(self, col: Column, values: list[Any], page: int) -> pa.Array:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            return pa.array([None if v is None else json_text(v) for v in values], col.type)
        try:
            if pa.types.is_decimal(col.type) or pa.types.is_temporal(col.type):
                source = pa.array([None if v is None else str(v) for v in values], pa.string())
                if pa.types.is_decimal(col.type):
                    return source.cast(col.type)
                return _temporal(source, col.type)
            return pa.array(values).cast(col.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError) as exc:
            raise StepError(f"{self.what}: column '{col.name}' (declared {col.type}) on page {page}: {exc}") from None


def page_batches(
    rows: Rows,
    pages: Iterator[list[Any]],
    first: list[pa.RecordBatch],
    *,
    done: Callable[[int], None],
    close: Callable[[], None],
) -> Iterator[pa.RecordBatch]:
    """The batches of an API read: the first page's (already converted), then each later page's, then the rest;
    ``done(pages)`` once every page is read, ``close()`` whatever happens (the HTTP client)."""
    page = 1
    try:
        yield from first
        for page, objects in enumerate(pages, start=2):
            yield from rows.add(objects, page)
        yield from rows.finish(page)
        done(page)
    finally:
        close()


def _fits(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int64":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float64":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _temporal(source: pa.Array, target: pa.DataType) -> pa.Array:
    """ISO 8601 text to a date/time/timestamp type. Text with a zone (``Z``, ``+02:00``) is read as that instant
    (kept in UTC); text without one is taken as UTC for a zoned column."""
    import pyarrow.compute as pc

    if not pa.types.is_timestamp(target):
        return source.cast(target)
    try:
        zoned = source.cast(pa.timestamp(target.unit, "UTC"))
    except pa.ArrowInvalid:
        naive = source.cast(pa.timestamp(target.unit))
        return pc.assume_timezone(naive, "UTC").cast(target) if target.tz else naive.cast(target)
    return zoned.cast(target)
