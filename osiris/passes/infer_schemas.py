"""infer_schemas: the output columns and logical types of every step, or None when they are known only at run time.

Sources, in order of preference (docs/ddl.md): columns declared in the config (``columns: [{name, type,
nullable}]`` or ``{name: type}``; ``dtype`` of the CSV extractor overrides sniffed types), the schema lock file
``<pipeline>.schema.lock.json`` written by ``osirisc introspect``, CSV sniffing with DuckDB when the file exists at
build time, and for ``duckdb.processor`` the SQL described by DuckDB over empty typed tables named as the step sees
its inputs. SQL errors are reported at the query with DuckDB's message. A writer's schema is its input's.

Before: ``read movies (csv, file present)`` -> ``transform stats (SELECT director, COUNT(*) n FROM input_df ...)``
After: ``movies.schema = [id int64, director string, ...]`` (csv), ``stats.schema = [director string, n int64]``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs

from osiris.dialects import csv as csv_dialect
from osiris.dialects import dialect
from osiris.dialects.lock import lock_path, read_lock
from osiris.dialects.types import TypeParseError, normalize
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error, warning
from osiris.ir.span import Span
from osiris.passes.base import PassContext, PassResult
from osiris.passes.duck_cache import DuckAnswers, file_identity

PRODUCT = "infer-schemas"
SQL_COMPONENTS = ("duckdb.processor",)
CSV_COMPONENTS = ("filesystem.csv_extractor",)


def infer_schemas(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diags: list[Diagnostic] = []
    base = Path(pipeline.span.file).parent if pipeline.span else Path()
    lock = _load_lock(pipeline, diags)
    schemas: dict[str, nodes.Schema | None] = {}
    why: dict[str, str] = {}
    order = pipeline.order or tuple(s.id for s in pipeline.steps)
    by_id = {s.id: s for s in pipeline.steps}
    sources = dict(ctx.sources)
    duck = _Duck()
    try:
        for step_id in order:
            step = by_id.get(step_id)
            if step is None:
                continue
            schema, reason = _infer(step, base, lock, schemas, diags, duck=duck, sources=sources)
            schemas[step_id] = schema
            if schema is None:
                why[step_id] = reason
    finally:
        duck.close()
    steps = tuple(attrs.evolve(s, schema=schemas.get(s.id)) for s in pipeline.steps)
    ctx.products[PRODUCT] = {
        "unknown": {k: why[k] for k in sorted(why)},
        "sources": {k: v.source for k, v in sorted(schemas.items()) if v is not None},
    }
    return PassResult(attrs.evolve(pipeline, steps=steps), tuple(diags))


def _infer(
    step: nodes.Step,
    base: Path,
    lock: dict[str, Any],
    known: dict[str, nodes.Schema | None],
    diags: list[Diagnostic],
    *,
    duck: _Duck,
    sources: dict[str, str],
) -> tuple[nodes.Schema | None, str]:
    declared = _declared(step, diags)
    if declared is not None:
        return declared, ""
    entry = lock.get(step.id)
    if entry is not None and isinstance(entry.get("columns"), list):
        cols = tuple(nodes.Column(c["name"], c["type"], bool(c.get("nullable", True))) for c in entry["columns"])
        return nodes.Schema(cols, "lock"), ""
    if step.component in CSV_COMPONENTS:
        return _sniff_csv(step, base, diags, duck)
    upstream = [known.get(i) for i in dict.fromkeys(i.step for i in step.inputs)]
    if step.component in SQL_COMPONENTS:
        missing = [i.step for i in step.inputs if known.get(i.step) is None]
        if missing:
            return None, f"input '{missing[0]}' has no schema at build time"
        return _describe_sql(step, known, diags, duck, sources)
    if step.mode == "write":
        if len(upstream) == 1 and upstream[0] is not None:
            return nodes.Schema(upstream[0].columns, "input"), ""
        return None, "its input's schema is known only at run time"
    return None, f"{step.component} reads its schema from the source at run time (run `osirisc introspect`)"


# --------------------------------------------------------------------------- declared columns


def _declared(step: nodes.Step, diags: list[Diagnostic]) -> nodes.Schema | None:
    value = step.config.get("columns")
    cols: list[nodes.Column] = []
    if isinstance(value, nodes.List) and value.items and all(isinstance(i, nodes.Map) for i in value.items):
        for item in value.items:
            assert isinstance(item, nodes.Map)
            name, type_, nullable = item.get("name"), item.get("type"), item.get("nullable")
            if not isinstance(name, nodes.Str) or not isinstance(type_, nodes.Str):
                diags.append(error("OSR-E200", "a declared column needs `name` and `type` strings", item.span))
                continue
            col = _column(name.value, type_, diags, not (isinstance(nullable, nodes.Bool) and not nullable.value))
            if col:
                cols.append(col)
    elif isinstance(value, nodes.Map) and value.entries:
        for entry in value.entries:
            if isinstance(entry.value, nodes.Str):
                col = _column(entry.key, entry.value, diags, True)
                if col:
                    cols.append(col)
            else:
                diags.append(error("OSR-E200", "a declared column type must be a string", entry.value.span))
    else:
        return None
    return nodes.Schema(tuple(cols), "declared")


def _column(name: str, type_: nodes.Str, diags: list[Diagnostic], nullable: bool) -> nodes.Column | None:
    try:
        return nodes.Column(name, normalize(type_.value), nullable, type_.span)
    except TypeParseError as exc:
        diags.append(error("OSR-E200", str(exc), type_.span))
        return None


# --------------------------------------------------------------------------- schema lock


def _load_lock(pipeline: nodes.Pipeline, diags: list[Diagnostic]) -> dict[str, Any]:
    if pipeline.span is None:
        return {}
    path = lock_path(pipeline.span.file)
    if not path.is_file():
        return {}
    try:
        return read_lock(path)
    except ValueError as exc:
        diags.append(
            error(
                "OSR-E207",
                f"schema lock {path.name} is unreadable: {exc}",
                pipeline.span,
                "rerun `osirisc introspect` to rewrite it",
            )
        )
        return {}


# --------------------------------------------------------------------------- CSV


def _sniff_csv(step: nodes.Step, base: Path, diags: list[Diagnostic], duck: _Duck) -> tuple[nodes.Schema | None, str]:
    path_value = step.config.get("path")
    if not isinstance(path_value, nodes.Str):
        return None, "its path is known only at run time"
    path = Path(path_value.value)
    if not path.is_absolute():
        path = base / path
    try:
        exists = path.is_file()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte: no such file can exist
        return None, f"{path_value.value} cannot name a file"
    if not exists:
        return None, f"{path_value.value} does not exist at build time"
    try:
        cols = duck.sniff(str(path))
    except Exception as exc:  # duckdb raises several error classes for unreadable files
        diags.append(
            warning(
                "OSR-W202",
                f"cannot sniff {path_value.value}: {_first_line(str(exc))}",
                path_value.span,
                "its schema is decided at run time",
            )
        )
        return None, f"{path_value.value} could not be sniffed"
    dtype = step.config.get("dtype")
    overrides = {e.key: e.value for e in dtype.entries} if isinstance(dtype, nodes.Map) else {}
    keep = step.config.get("columns")
    wanted = [i.value for i in keep.items if isinstance(i, nodes.Str)] if isinstance(keep, nodes.List) else None
    out: list[nodes.Column] = []
    for c in cols:
        if wanted is not None and c["name"] not in wanted:
            continue
        override = overrides.get(str(c["name"]))
        type_text = str(c["type"])
        if isinstance(override, nodes.Str):
            col = _column(str(c["name"]), override, diags, True)
            type_text = col.type if col else type_text
        out.append(nodes.Column(str(c["name"]), type_text, True))
    return nodes.Schema(tuple(out), "csv"), ""


# --------------------------------------------------------------------------- DuckDB SQL

_LINE_RE = re.compile(r"LINE (\d+): (.*)\n( *)(\^+)")
_PREFIX = "DESCRIBE "
_OUTSIDE = re.compile(r"['\"$]")


class _Duck:
    """One in-memory DuckDB connection for the whole pass (opened on first use), with memoised answers.

    Each SQL description runs in a transaction that is rolled back, so every query sees the same empty catalogue
    a fresh connection would (same results, same error messages). A successful description is memoised by the
    query text and the definitions of the input tables whose names occur in it (case-insensitively): the other
    tables cannot change how the query binds, only the "did you mean" hints of an error, so errors are always
    produced by DuckDB with the step's own complete catalogue. CSV sniffs are memoised by path. Successful
    answers are also kept across runs (duck_cache), so a warm compile does not start DuckDB at all.
    """

    def __init__(self) -> None:
        self._con: Any = None
        self._described: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self._sniffed: dict[str, list[dict[str, object]] | Exception] = {}
        self._stored: DuckAnswers | None = None

    def _answers(self) -> DuckAnswers:
        if self._stored is None:
            self._stored = DuckAnswers()
        return self._stored

    def _connect(self) -> Any:
        if self._con is None:
            import duckdb  # the compiler needs DuckDB only for this pass

            self._con = duckdb.connect()
        return self._con

    def sniff(self, path: str) -> list[dict[str, object]]:
        if path not in self._sniffed:
            ident = file_identity(path)
            answers = self._answers()
            key = answers.key("sniff", ident) if ident is not None else ""
            stored = answers.get(key) if key else None
            if stored is not None:
                self._sniffed[path] = stored
            else:
                try:
                    self._sniffed[path] = cols = csv_dialect.sniff(path, self._connect())
                except Exception as exc:  # duckdb raises several error classes for unreadable files
                    self._sniffed[path] = exc
                else:
                    if key:
                        answers.put(key, cols)
        found = self._sniffed[path]
        if isinstance(found, Exception):
            raise found
        return found

    def describe(self, tables: dict[str, str], query: str) -> tuple[list[tuple[Any, ...]] | None, str]:
        """DuckDB's DESCRIBE rows of ``query`` over ``tables`` (name -> ``CREATE TABLE``), or its error message."""
        text = query.lower()
        key = (query, tuple(create for name, create in tables.items() if name.lower() in text))
        rows = self._described.get(key)
        if rows is not None:
            return rows, ""
        answers = self._answers()
        # a quoted string or identifier can name a file or setting (FROM 'x.csv', read_parquet, getenv): such a
        # query's answer may change without its text changing, so it is never kept across runs
        stored_key = "" if _OUTSIDE.search(query) else answers.key("describe", *key[:1], *key[1])
        stored = answers.get(stored_key) if stored_key else None
        if stored is not None:
            rows = self._described[key] = [tuple(r) for r in stored]
            return rows, ""
        import duckdb  # already imported by _connect

        con = self._connect()
        con.execute("BEGIN TRANSACTION")
        try:
            for create in tables.values():
                con.execute(create)
            rows = con.execute(_PREFIX + query).fetchall()
        except duckdb.Error as exc:
            return None, str(exc)
        finally:
            con.execute("ROLLBACK")
        self._described[key] = rows
        if stored_key:
            answers.put(stored_key, [list(r) for r in rows])
        return rows, ""

    def close(self) -> None:
        if self._stored is not None:
            self._stored.save()
        if self._con is not None:
            self._con.close()
            self._con = None


def _describe_sql(
    step: nodes.Step,
    known: dict[str, nodes.Schema | None],
    diags: list[Diagnostic],
    duck: _Duck,
    sources: dict[str, str],
) -> tuple[nodes.Schema | None, str]:
    query = step.config.get("query")
    if not isinstance(query, nodes.Str):
        return None, "its query is known only at run time"
    sql = dialect("duckdb")
    tables: dict[str, str] = {}
    for inp in step.inputs:
        schema = known[inp.step]
        assert schema is not None
        defs = ", ".join(f"{sql.quote_ident(c.name)} {sql.to_native(c.type)[0]}" for c in schema.columns)
        tables[inp.name] = f"CREATE TABLE {sql.quote_ident(inp.name)} ({defs})"
    rows, message = duck.describe(tables, query.value)
    if rows is None:
        diags.append(
            error(
                "OSR-E203",
                f"SQL error in step '{step.id}': {_first_line(message)}",
                _error_span(query, message, sources),
                *_notes(message),
            )
        )
        return None, "its SQL has an error"
    cols = tuple(nodes.Column(r[0], sql.to_logical(r[1]), r[2] != "NO") for r in rows)
    return nodes.Schema(cols, "sql"), ""


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


def _notes(message: str) -> tuple[str, ...]:
    rest = [ln for ln in message.strip().splitlines()[1:] if ln.strip() and not ln.startswith("LINE ")]
    return tuple(ln.strip() for ln in rest if ln.strip().strip("^"))


def _error_span(query: nodes.Str, message: str, sources: dict[str, str]) -> Span | None:
    """The position DuckDB points at, mapped into the file when the query line appears there verbatim."""
    span = query.span
    m = _LINE_RE.search(message)
    if span is None or m is None:
        return span
    line_no, shown = int(m.group(1)), m.group(2)
    query_lines = query.value.splitlines()
    source = sources.get(span.file)
    if source is None or not 1 <= line_no <= len(query_lines):
        return span
    text = query_lines[line_no - 1]
    prefix = _PREFIX if line_no == 1 else ""
    # DuckDB shortens long lines with "..." at either end; find the shown part in the full line
    lead = 3 if shown.startswith("...") else 0
    core = shown[lead:].removesuffix("...")
    found = (prefix + text).find(core)
    caret = found + len(m.group(3)) - len(f"LINE {line_no}: ") - lead - len(prefix)
    width = len(m.group(4))
    if found < 0 or caret < 0:
        return span
    lines = source.splitlines()
    for n in range(span.line + line_no - 1, min(span.end_line, len(lines)) + 1):
        idx = lines[n - 1].find(text) if text else -1
        if idx >= 0 and caret <= len(text):
            return Span(span.file, n, idx + 1 + caret, n, idx + 1 + caret + width)
    return span
