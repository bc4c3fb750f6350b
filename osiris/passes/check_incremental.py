"""check_incremental: an extractor's ``incremental`` block fits its source and its writer (docs/incremental.md).

For every read step with ``config.incremental``:

- the cursor column (and each ``tie_breaker`` column) exists in the step's columns when ``infer_schemas`` knows
  them (OSR-E250), and the cursor's type is orderable: integers, decimals, floats, dates, timestamps, text
  (OSR-E251); ``lookback``, ``initial_value`` and ``end_value`` fit that type (OSR-E251);
- the step feeds exactly one writer, directly or through transforms, and that writer can keep the state with its
  data: a SQL table writer or a CSV file (OSR-E252);
- the writer's mode keeps earlier rows: ``upsert`` (with its key), or ``append`` without a lookback; ``replace``
  and ``truncate`` would drop everything loaded before this run's rows (OSR-E253). A CSV writer replaces its file:
  the file holds each run's new rows only (warning OSR-W250).

It changes no IR; its product (``Incremental``) maps each incremental step to ``{writer, dialect, source}``, the
dialects from the writer's and the extractor's specs (``osirisc plan`` shows the predicate from it).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error, warning
from osiris.ir.span import Span
from osiris.passes.base import Incremental, PassContext, PassResult

NUMERIC = re.compile(r"^(u?int\d+|float\d+|decimal\(.*\))$")
TEMPORAL = ("date", "timestamp", "timestamp[tz]")
ORDERABLE_HINT = "integers, decimals, floats, dates, timestamps or text"


def check_incremental(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diags: list[Diagnostic] = []
    product: dict[str, Any] = {}
    for step in pipeline.steps:
        entry = step.config.entry("incremental")
        if step.mode != "read" or entry is None or not isinstance(entry.value, nodes.Map):
            continue
        block = entry.value
        span = block.span or entry.key_span or step.id_span
        _check_columns(step, block, span, diags)
        writers = _writers(pipeline, step.id)
        if len(writers) != 1:
            diags.append(
                error(
                    "OSR-E252",
                    f"incremental step '{step.id}' feeds {len(writers)} writers"
                    + (f" ({', '.join(w.id for w in writers)})" if writers else "")
                    + "; it must feed exactly one, which keeps the state with its data",
                    entry.key_span or span,
                    "split the pipeline, or extract once per writer (each with its own state)",
                )
            )
            continue
        writer = writers[0]
        writer_spec, source_spec = ctx.registry.get(writer.component), ctx.registry.get(step.component)
        dialect = writer_spec.dialect if writer_spec else None  # a database or a file keeps the state with its data
        source = source_spec.dialect if source_spec else None
        if dialect not in ("postgres", "mysql", "duckdb", "csv"):
            diags.append(
                error(
                    "OSR-E252",
                    f"incremental step '{step.id}' writes through '{writer.id}' ({writer.component}), which cannot "
                    "keep the incremental state with its data",
                    entry.key_span or span,
                )
            )
            continue
        _check_mode(step, block, writer, str(dialect), span, source=source, diags=diags)
        product[step.id] = {"writer": writer.id, "dialect": dialect, "source": source}
    return PassResult(pipeline, tuple(diags), product=Incremental(product))


def _value_span(block: nodes.Map, key: str, fallback: Span | None) -> Span | None:
    e = block.entry(key)
    if e is None:
        return fallback
    return e.value.span or e.key_span or fallback


def _check_columns(step: nodes.Step, block: nodes.Map, span: Span | None, diags: list[Diagnostic]) -> None:
    cursor = block.get("cursor_column")
    if not isinstance(cursor, nodes.Str):
        return
    cursor_span = _value_span(block, "cursor_column", span)
    if step.schema is None:
        return  # the columns are known only at run time: the extractor checks the cursor then
    types = {c.name: c.type for c in step.schema.columns}
    known = ", ".join(types) or "none"
    if cursor.value not in types:
        diags.append(
            error(
                "OSR-E250",
                f"incremental step '{step.id}': cursor column '{cursor.value}' is not among its columns ({known})",
                cursor_span,
            )
        )
        return
    tie = block.get("tie_breaker")
    if isinstance(tie, nodes.List):
        for item in tie.items:
            if isinstance(item, nodes.Str) and item.value not in types:
                diags.append(
                    error(
                        "OSR-E250",
                        f"incremental step '{step.id}': tie_breaker column '{item.value}' is not among its columns "
                        f"({known})",
                        item.span or span,
                    )
                )
    kind = types[cursor.value]
    if not (NUMERIC.match(kind) or kind in TEMPORAL or kind == "string"):
        diags.append(
            error(
                "OSR-E251",
                f"incremental step '{step.id}': cursor column '{cursor.value}' is {kind}, which has no useful order "
                f"for a high-water mark (use {ORDERABLE_HINT})",
                cursor_span,
            )
        )
        return
    lookback = block.get("lookback")
    if isinstance(lookback, nodes.Str | nodes.Int | nodes.Float):
        zero = isinstance(lookback, nodes.Int | nodes.Float) and lookback.value == 0
        if kind == "string" and not zero:
            diags.append(
                error(
                    "OSR-E251",
                    f"incremental step '{step.id}': a text cursor ('{cursor.value}') cannot have a lookback",
                    _value_span(block, "lookback", span),
                    "there is no 'earlier by N' for text; use a numeric or timestamp cursor for late rows",
                )
            )
        elif NUMERIC.match(kind) and isinstance(lookback, nodes.Str):
            diags.append(
                error(
                    "OSR-E251",
                    f"incremental step '{step.id}': lookback '{lookback.value}' is a duration but cursor "
                    f"'{cursor.value}' is {kind}: give a number in the cursor's units",
                    _value_span(block, "lookback", span),
                )
            )
    for key in ("initial_value", "end_value"):
        value = block.get(key)
        problem = _misfit(value, kind)
        if problem:
            diags.append(
                error(
                    "OSR-E251",
                    f"incremental step '{step.id}': {key} {problem} for cursor '{cursor.value}' ({kind})",
                    _value_span(block, key, span),
                )
            )


def _misfit(value: nodes.Value | None, kind: str) -> str | None:
    if value is None:
        return None
    if NUMERIC.match(kind):
        if isinstance(value, nodes.Int | nodes.Float):
            return None
        if isinstance(value, nodes.Str):
            try:
                float(value.value)
            except ValueError:
                return f"'{value.value}' is not a number"
        return None
    if kind in TEMPORAL:
        if isinstance(value, nodes.Int | nodes.Float):
            return f"{value.value} is a number, not a date or timestamp"
        if isinstance(value, nodes.Str):
            text = value.value.strip().replace("Z", "+00:00")
            try:
                (dt.date.fromisoformat if kind == "date" else dt.datetime.fromisoformat)(text)
            except ValueError:
                want = "YYYY-MM-DD" if kind == "date" else "YYYY-MM-DD[ HH:MM:SS[+HH:MM]]"
                return f"'{value.value}' is not an ISO {kind} ({want})"
    return None


def _writers(pipeline: nodes.Pipeline, source: str) -> list[nodes.Step]:
    readers: dict[str, list[nodes.Step]] = {}
    for s in pipeline.steps:
        for inp in s.inputs:
            readers.setdefault(inp.step, []).append(s)
    found: dict[str, nodes.Step] = {}
    todo, seen = [source], {source}
    while todo:
        for s in readers.get(todo.pop(), []):
            if s.id in seen:
                continue
            seen.add(s.id)
            if s.mode == "write":
                found[s.id] = s
            else:
                todo.append(s.id)
    return list(found.values())


def _check_mode(
    step: nodes.Step,
    block: nodes.Map,
    writer: nodes.Step,
    dialect: str,
    span: Span | None,
    *,
    source: str | None,
    diags: list[Diagnostic],
) -> None:
    if dialect == "csv":
        diags.append(
            warning(
                "OSR-W250",
                f"incremental step '{step.id}' writes to a CSV file ('{writer.id}'): each run replaces the file with "
                "that run's new rows only",
                span,
                "the state file next to it (.osirisc-state.json) remembers where the next run starts",
            )
        )
        return
    mode_entry = writer.config.entry("write_mode")  # canonical: validate_config renamed Osiris's `mode`
    given = mode_entry.value if mode_entry else None
    mode = (writer.write or {}).get("mode") or (given.value if isinstance(given, nodes.Str) else "append")
    mode_span = (mode_entry.value.span if mode_entry else None) or writer.id_span or writer.span
    if mode in ("replace", "truncate"):
        diags.append(
            error(
                "OSR-E253",
                f"writer '{writer.id}' has write_mode {mode}, but its input '{step.id}' is incremental: each run would "
                "replace the table with only the rows new since the last run",
                mode_span,
                "use write_mode: upsert with a primary_key (rows read again replace their old version), or append",
            )
        )
        return
    lookback = block.get("lookback")
    looks_back = isinstance(lookback, nodes.Str | nodes.Int | nodes.Float) and lookback.value not in (0, "0")
    looks_back |= source == "hogql"  # PostHog's window always reaches back lookback_window_minutes
    if mode == "append" and looks_back:
        diags.append(
            error(
                "OSR-E253",
                f"writer '{writer.id}' appends, but its incremental input '{step.id}' has a lookback: rows read again "
                "inside the lookback would be appended twice",
                mode_span,
                "use write_mode: upsert with a primary_key, or drop the lookback",
            )
        )
