"""infer_schemas: the output columns and logical types of every step, or None when they are known only at run time.

Sources, in order of preference (docs/ddl.md): columns declared in the config (``columns: [{name, type,
nullable}]`` or ``{name: type}``; ``dtype`` of the CSV extractor overrides sniffed types), the schema lock file
``<pipeline>.schema.lock.json`` written by ``osirisc introspect``, CSV sniffing with DuckDB when the file exists at
build time (the step's config also gets the ``read_plan`` the run reads with: docs/runtime.md), and for a
processor the SQL described by DuckDB over empty typed tables named as the step sees its inputs. Which applies is
the spec's ``x-compiler.schema`` (csv, sql, connection: lock only, none). SQL errors are reported at the query with
DuckDB's message. A writer's schema is its input's.
SQL that cannot be described (an input's columns unknown, a DuckDB source's query) is still parsed, so syntax
errors are always reported; a transform that could only be parsed gets OSR-W211 naming the unknown step and the fix.
A lock entry is used only while its component and source are the step's (else OSR-E211: the lock is stale).

Before: ``read movies (csv, file present)`` -> ``transform stats (SELECT director, COUNT(*) n FROM input_df ...)``
After: ``movies.schema = [id int64, director string, ...]`` (csv), ``stats.schema = [director string, n int64]``.
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import json
import re
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from osiris.components.filesystem_csv_extractor import rules as csv_rules
from osiris.components.registry import ComponentSpec
from osiris.dialects import csv as csv_dialect
from osiris.dialects import dialect
from osiris.dialects.lock import lock_path, normalize_source, read_lock, source_select
from osiris.dialects.types import TypeParseError, normalize
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error, warning
from osiris.ir.span import Span
from osiris.passes.base import PassContext, PassResult, Schemas
from osiris.passes.duck_cache import DuckAnswers, file_identity

SQL_FAILED = "its SQL has an error"
BROKEN = "an error was reported for it"  # a step found broken by an earlier pass (passes/poison.py)


def infer_schemas(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diags: list[Diagnostic] = []
    base = Path(pipeline.span.file).parent if pipeline.span else Path()
    lock = _load_lock(pipeline, diags)
    pipeline_level = bool(diags)  # an unreadable schema lock: no step's problem
    broken: set[str] = set()
    schemas: dict[str, nodes.Schema | None] = {}
    why: dict[str, str] = {}
    order = pipeline.order or tuple(s.id for s in pipeline.steps)
    by_id = {s.id: s for s in pipeline.steps}
    sources = dict(ctx.sources)
    duck = _Duck()
    read_plans: dict[str, nodes.Map] = {}
    try:
        for step_id in order:
            step = by_id.get(step_id)
            if step is None:
                continue
            if step_id in ctx.skip:  # found broken before: unknown, and the steps reading it are only parsed
                schemas[step_id], why[step_id] = None, BROKEN
                continue
            before = len(diags)
            schema, reason = _infer(
                step,
                base,
                lock,
                schemas,
                diags,
                spec=ctx.registry.get(step.component),
                duck=duck,
                sources=sources,
                read_plans=read_plans,
                why=why,
                by_id=by_id,
            )
            schemas[step_id] = schema
            if schema is None:
                why[step_id] = reason
            if any(d.is_error for d in diags[before:]):
                broken.add(step_id)
    finally:
        duck.close()
    steps = tuple(_with_read_plan(attrs.evolve(s, schema=schemas.get(s.id)), read_plans) for s in pipeline.steps)
    product = Schemas(unknown={k: why[k] for k in sorted(why)})
    attributed = None if pipeline_level else frozenset(broken)
    return PassResult(attrs.evolve(pipeline, steps=steps), tuple(diags), attributed, product=product)


def _infer(
    step: nodes.Step,
    base: Path,
    lock: dict[str, Any],
    known: dict[str, nodes.Schema | None],
    diags: list[Diagnostic],
    *,
    spec: ComponentSpec | None,
    duck: _Duck,
    sources: dict[str, str],
    read_plans: dict[str, nodes.Map],
    why: dict[str, str],
    by_id: dict[str, nodes.Step],
) -> tuple[nodes.Schema | None, str]:
    declared = _declared(step, diags)
    if declared is not None:
        return declared, ""
    entry = lock.get(step.id)
    if entry is not None and isinstance(entry.get("columns"), list):
        _check_lock_entry(step, spec, entry, diags)
        cols = tuple(nodes.Column(c["name"], c["type"], bool(c.get("nullable", True))) for c in entry["columns"])
        return nodes.Schema(cols, "lock"), ""
    kind = spec.schema_kind if spec is not None else "none"  # x-compiler.schema
    if kind == "csv":
        return _sniff_csv(step, base, diags, duck, read_plans)
    upstream = [known.get(i) for i in dict.fromkeys(i.step for i in step.inputs)]
    if kind == "sql":
        missing = [i.step for i in step.inputs if known.get(i.step) is None]
        if missing:
            root = _root_unknown(missing[0], known, by_id)
            if _parse_sql(step, diags, duck, sources) and why.get(root.id) not in (SQL_FAILED, BROKEN):
                diags.append(_syntax_only(step, root, why))  # (an upstream error is reported already)
            return None, f"input '{missing[0]}' has no schema at build time"
        return _describe_sql(step, known, diags, duck, sources)
    if kind == "connection" and spec is not None and spec.dialect == "duckdb":  # parsed, bound only at run time
        _parse_sql(step, diags, duck, sources)
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


def _check_lock_entry(
    step: nodes.Step, spec: ComponentSpec | None, entry: dict[str, Any], diags: list[Diagnostic]
) -> None:
    """OSR-E211 when the lock was written for another component or source than the step's current one."""
    name = spec.dialect if spec is not None and spec.schema_kind == "connection" else None
    config = nodes.plain(step.config)
    now = source_select(name, config) if name is not None and isinstance(config, dict) else None
    recorded = entry.get("source")
    if entry.get("component") == step.component and isinstance(recorded, str) and now == normalize_source(recorded):
        return
    if entry.get("component") != step.component:
        what = f"was written for component {entry.get('component')}, the step is now {step.component}"
    else:
        what = f"was written for source `{_short(str(recorded))}`, the step now reads `{_short(str(now))}`"
    where = next((v.span for k in ("query", "table", "columns") if (v := step.config.get(k)) is not None), None)
    diags.append(
        error(
            "OSR-E211",
            f"schema lock entry of step '{step.id}' is stale: it {what}",
            where or step.id_span or step.span,
            "rerun `osirisc introspect FILE` to describe the current source",
        )
    )


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 80 else one[:77] + "..."


# --------------------------------------------------------------------------- CSV


_PLAN_FIELDS = (
    "delimiter",
    "quoting",
    "header",
    "skip_rows",
    "na_values",
    "encoding",
    "compression",
    "comment",
    "skip_blank_lines",
    "parse_dates",
    "dtype",
)


def _with_read_plan(step: nodes.Step, read_plans: dict[str, nodes.Map]) -> nodes.Step:
    """The step with its CSV read plan as config key ``read_plan`` (the run reads exactly that)."""
    plan = read_plans.get(step.id)
    if plan is None and step.config.get("read_plan") is None:
        return step
    entries = tuple(e for e in step.config.entries if e.key != "read_plan")
    added = (nodes.Entry("read_plan", plan),) if plan is not None else ()
    return attrs.evolve(step, config=nodes.Map((*entries, *added), step.config.span))


def _sniff_csv(
    step: nodes.Step, base: Path, diags: list[Diagnostic], duck: _Duck, read_plans: dict[str, nodes.Map]
) -> tuple[nodes.Schema | None, str]:
    """The file's read plan (reading.py) from DuckDB's sniff under the config's explicit fields, checked by reading
    the first block as the run will; the schema is its kept columns. The plan goes into the step's config."""
    cfg = step.config
    _warn_newline(cfg.get("newline"), diags)
    path_value = cfg.get("path")
    if not isinstance(path_value, nodes.Str):
        return None, "its path is known only at run time"
    path, why = _file_at_build_time(path_value.value, cfg, base)
    if path is None:
        return None, why
    plan, why = _sniffed_plan(path, path_value, cfg, duck, diags)
    if plan is None:
        return None, why
    by_name = {c["name"]: c for c in plan["columns"]}
    if not _named_columns_exist(cfg, by_name, path.name, diags):
        return None, f"{path_value.value} cannot be read as configured"
    dtype = cfg.get("dtype")
    _apply_dtype(dtype, by_name, diags)
    keep = cfg.get("columns")
    wanted = [i.value for i in keep.items if isinstance(i, nodes.Str)] if isinstance(keep, nodes.List) else []
    if dtype is not None and not _sample_reads(path, plan, path_value.span, diags):
        return None, f"{path_value.value} cannot be read as configured"
    node = _node(plan)
    assert isinstance(node, nodes.Map)
    read_plans[step.id] = node
    names = wanted or list(by_name)
    return nodes.Schema(tuple(nodes.Column(n, str(by_name[n]["type"]), True) for n in names), "csv"), ""


def _warn_newline(newline: nodes.Value | None, diags: list[Diagnostic]) -> None:
    """OSR-W212 for a ``newline`` other than auto: the reader ends a row at LF, CRLF and CR alike."""
    if isinstance(newline, nodes.Str) and newline.value != "auto":
        diags.append(
            warning(
                "OSR-W212",
                f"newline: {newline.value} is not used when reading: LF, CRLF and CR all end a row",
                newline.span,
            )
        )


def _file_at_build_time(value: str, cfg: nodes.Map, base: Path) -> tuple[Path | None, str]:
    """The file the config's ``path`` names when it exists at build time, else None and why it cannot be sniffed."""
    path = Path(value)
    if not path.is_absolute():
        if isinstance(cfg.get("connection"), nodes.ConnectionRef):
            return None, "its folder is the connection's base_dir, known only at run time"
        path = base / path
    try:
        exists = path.is_file()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte: no such file can exist
        return None, f"{value} cannot name a file"
    if not exists:
        return None, f"{value} does not exist at build time"
    return path, ""


def _sniffed_plan(
    path: Path, path_value: nodes.Str, cfg: nodes.Map, duck: _Duck, diags: list[Diagnostic]
) -> tuple[dict[str, Any] | None, str]:
    """The read plan DuckDB sniffs for the file under the config, else None and why (OSR-E212 for a file the run
    could not read so, OSR-W202 for one DuckDB cannot sniff; bz2, xz and zip files are not sniffed)."""
    plain: dict[str, Any] = {e.key: nodes.plain(e.value) for e in cfg.entries}
    if csv_rules.compression_of(path, plain.get("compression")) in ("bz2", "xz", "zip"):
        return None, f"{path_value.value} is read by DuckDB only at run time (bz2, xz and zip are not sniffed)"
    try:
        return duck.read_plan(str(path), plain), ""
    except csv_rules.CsvError as exc:
        diags.append(error("OSR-E212", str(exc), path_value.span, _CSV_HINT))
        return None, f"{path_value.value} cannot be read as sniffed"
    except ImportError:
        raise  # DuckDB or pyarrow cannot be loaded: not the file's fault (compile.py)
    except Exception as exc:  # duckdb raises several error classes for unreadable files
        unreadable = _unparsable(path, plain)
        if unreadable:
            diags.append(error("OSR-E212", unreadable, path_value.span, "quote the value, or fix the file"))
            return None, f"{path_value.value} cannot be read"
        diags.append(
            warning(
                "OSR-W202",
                f"cannot sniff {path_value.value}: {_first_line(str(exc))}",
                path_value.span,
                "its schema is decided at run time",
            )
        )
        return None, f"{path_value.value} could not be sniffed"


def _unparsable(path: Path, cfg: dict[str, Any]) -> str:
    """Why the run's reader cannot parse the file's first block under the config (e.g. a line break inside an
    unquoted value), or "" when it can: when DuckDB cannot sniff a file, the run reads it with the config's dialect,
    so a parse error there is the run's error, found now."""
    from osiris.components.filesystem_csv_extractor import reading  # pyarrow's reader: only when planning

    try:
        reading.read_header(path, csv_rules.config_dialect(cfg))
    except csv_rules.CsvError as exc:
        return str(exc)
    except ImportError:
        raise
    except Exception:  # anything else is DuckDB's warning's business (OSR-W202), decided at run time
        return ""
    return ""


def _named_columns_exist(cfg: nodes.Map, by_name: dict[str, Any], file_name: str, diags: list[Diagnostic]) -> bool:
    """Whether every column named by ``dtype``, ``columns`` and ``parse_dates`` is in the file (else OSR-E212s)."""
    dtype = cfg.get("dtype")
    named = [(e.key, e.key_span, "dtype") for e in dtype.entries] if isinstance(dtype, nodes.Map) else []
    for key in ("columns", "parse_dates"):
        listed = cfg.get(key)
        if isinstance(listed, nodes.List):
            named += [(i.value, i.span, key) for i in listed.items if isinstance(i, nodes.Str)]
    unknown = [(name, span, key) for name, span, key in named if name not in by_name]
    for name, span, key in unknown:
        message = f"{key} names column '{name}', which {file_name} does not have"
        diags.append(error("OSR-E212", message, span, f"its columns: {', '.join(by_name)}"))
    return not unknown


def _apply_dtype(dtype: nodes.Value | None, by_name: dict[str, Any], diags: list[Diagnostic]) -> None:
    """The ``dtype`` types over the sniffed ones, in the plan's columns (``by_name``); a bad type is reported."""
    for entry in dtype.entries if isinstance(dtype, nodes.Map) else ():
        if isinstance(entry.value, nodes.Str):
            col = _column(entry.key, entry.value, diags, True)
            if col:
                by_name[entry.key]["type"] = col.type


def _sample_reads(path: Path, plan: dict[str, Any], span: Span | None, diags: list[Diagnostic]) -> bool:
    """Whether the file's first block reads under the plan as the run reads it (else OSR-E212)."""
    from osiris.components.filesystem_csv_extractor import reading  # pyarrow's reader: only when planning

    try:
        reading.check_sample(path, plan)
    except csv_rules.CsvError as exc:
        diags.append(error("OSR-E212", str(exc), span, _CSV_HINT))
        return False
    return True


_CSV_HINT = "set the column's type in `dtype` (e.g. string) or fix the file"
_TEMPORAL = ("date", "time", "timestamp", "timestamp[tz]")


def _node(value: Any) -> nodes.Value:
    """A plain JSON-like value as an IR config value (for the read plan written into the step's config)."""
    if isinstance(value, dict):
        return nodes.Map(tuple(nodes.Entry(str(k), _node(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return nodes.List(tuple(_node(v) for v in value))
    if isinstance(value, bool):
        return nodes.Bool(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if value is None:
        return nodes.Null()
    return nodes.Str(str(value))


def _sniff_options(dialect: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """DuckDB sniff_csv options that make it read as pyarrow will: the config's explicit fields win."""
    quote = dialect["quote"]
    options: dict[str, Any] = {
        "quote": quote,
        "escape": quote,
        "header": dialect["header"],
        "skip": dialect["skip_rows"],
        "nullstr": dialect["null_values"],
        "allow_quoted_nulls": False,
        "encoding": _DUCK_ENCODINGS.get(dialect["encoding"], dialect["encoding"]),
        "sample_size": 20480,
    }
    if "delimiter" in cfg:
        options["delim"] = dialect["delimiter"]
    if dialect["comment"]:
        options["comment"] = dialect["comment"]
    return options


_DUCK_ENCODINGS = {"utf-8-sig": "utf-8", "ascii": "utf-8", "iso-8859-1": "latin-1"}


def plan_csv(path: str, cfg: dict[str, Any], con: Any) -> dict[str, Any]:
    """The read plan of a CSV file: DuckDB sniffs delimiter, types and date formats under the config's explicit
    fields; the header is parsed as the run parses it and named by ``csv_rules.names``; ``parse_dates`` decides
    which date-looking columns stay text; the first block is read as the run will. Raises ``csv_rules.CsvError``
    when the run could not read the file so, other exceptions when DuckDB cannot sniff it."""
    from osiris.components.filesystem_csv_extractor import reading  # pyarrow's reader: only when planning

    dialect = csv_rules.config_dialect(cfg)
    options = _sniff_options(dialect, cfg)
    args = ", ".join(f"{k} = ${k}" for k in options)
    row = con.execute(
        f"SELECT Delimiter, Columns, DateFormat, TimestampFormat FROM sniff_csv($path, {args})",
        {"path": path, **options},
    ).fetchone()
    delimiter, sniffed, date_format, timestamp_format = row
    plan = {
        **dialect,
        "delimiter": delimiter,
        "date_format": date_format,
        "timestamp_format": timestamp_format,
        "true_values": list(csv_rules.TRUE_VALUES),
        "false_values": list(csv_rules.FALSE_VALUES),
    }
    cells = reading.read_header(Path(path), plan)
    if len(cells) != len(sniffed):
        raise csv_rules.CsvError(
            f"'{Path(path).name}': DuckDB sniffed {len(sniffed)} columns, the reader finds {len(cells)}"
        )
    dates = cfg.get("parse_dates")
    columns = []
    for cell, name, col in zip(cells, csv_rules.names(cells), sniffed, strict=True):
        type_ = csv_dialect.to_logical(str(col["type"]))
        if type_ in _TEMPORAL and (dates is False or (isinstance(dates, list) and name not in dates)):
            type_ = "string"
        if isinstance(dates, list) and name in dates and type_ not in _TEMPORAL:
            type_ = "timestamp"
        columns.append({"header": cell, "name": name, "type": type_})
    plan["columns"] = columns
    if cfg.get("dtype"):
        return plan  # the caller checks the sample once dtype is applied
    reading.check_sample(Path(path), plan)
    return plan


# --------------------------------------------------------------------------- DuckDB SQL


def _import_csv_reader() -> None:
    importlib.import_module("osiris.components.filesystem_csv_extractor.reading")  # pyarrow's CSV reader


@functools.cache  # asked once per described or parsed query
def duckdb_engine() -> Any:
    """DuckDB, for the compiler. DuckDB 2 ships its engine as the extension module ``_duckdb``, which the ``duckdb``
    package re-exports along with Python helpers (relations, expressions, data sources) the compiler never uses:
    the engine alone imports in ~15 ms, the package in ~80 ms (a cold check is ~20-25 ms faster; the run imports the
    package as before). Before DuckDB 2: the package. A failure to load names the package, as the user installs it."""
    if importlib.util.find_spec("_duckdb") is None:
        return import_holding_ctrl_c("duckdb")
    try:
        return import_holding_ctrl_c("_duckdb")
    except ImportError as exc:
        raise ImportError(str(exc), name="duckdb") from exc


def import_holding_ctrl_c(name: str) -> Any:
    """``import name`` with Ctrl-C held until it is done, then acted on as usual (KeyboardInterrupt).

    For DuckDB: a KeyboardInterrupt raised while its native module initialises aborts the process ("Critical
    nanobind error", SIGABRT) or is lost, instead of ending the check with exit 130. Signal handlers can be set
    only in the main thread; elsewhere this is a plain import."""
    if name in sys.modules or threading.current_thread() is not threading.main_thread():
        return importlib.import_module(name)
    held: list[int] = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        module = importlib.import_module(name)
    finally:
        signal.signal(signal.SIGINT, before)
    if held:
        if callable(before):
            before(signal.SIGINT, None)
        elif before == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)
    return module


_LINE_RE = re.compile(r"LINE (\d+): (.*)\n( *)(\^+)")
_PREFIX = "DESCRIBE "
_OUTSIDE = re.compile(r"['\"$]")


class _Duck:
    """One in-memory DuckDB connection for the whole pass (opened on first use), with memoised answers.

    Each SQL description runs in a transaction that is rolled back, so every query sees the same empty catalogue
    a fresh connection would (same results, same error messages). A successful description is memoised by the
    query text and the definitions of the input tables whose names occur in it (case-insensitively): the other
    tables cannot change how the query binds, only the "did you mean" hints of an error, so errors are always
    produced by DuckDB with the step's own complete catalogue. CSV read plans are memoised by path and config.
    Successful answers are also kept across runs (duck_cache), so a warm compile does not start DuckDB at all.
    """

    def __init__(self) -> None:
        self._con: Any = None
        self._described: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self._sniffed: dict[tuple[str, str], dict[str, Any] | Exception] = {}
        self._parsed: set[str] = set()
        self._stored: DuckAnswers | None = None

    def _answers(self) -> DuckAnswers:
        if self._stored is None:
            self._stored = DuckAnswers()
        return self._stored

    def _connect(self, meanwhile: Callable[[], object] | None = None) -> Any:
        """The connection, opened on first use; ``meanwhile`` runs while it opens.

        Opening a DuckDB database is ~20 ms of native work that releases the GIL, so it runs in a thread while
        this one does ``meanwhile`` (importing the CSV reader's pyarrow: ~70 ms of a cold check)."""
        if self._con is not None:
            if meanwhile is not None:
                meanwhile()
            return self._con
        duckdb = duckdb_engine()  # the compiler needs DuckDB only for this pass

        opened: dict[str, Any] = {}

        def open_database() -> None:
            try:
                opened["con"] = duckdb.connect()
            except BaseException as exc:  # re-raised in the compiling thread below
                opened["error"] = exc

        thread = threading.Thread(target=open_database, name="osirisc-duckdb-open", daemon=True)
        thread.start()
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            thread.join()
        failed = opened.get("error")
        if isinstance(failed, Exception) and not isinstance(failed, ImportError):
            # an in-memory database that cannot open (out of memory, a resource limit) is the environment's failure,
            # reported once as such (compile.py), not as every CSV "cannot sniff" and every query a syntax error
            raise ImportError(f"DuckDB cannot open an in-memory database: {failed}", name="duckdb") from failed
        if failed is not None:
            raise failed
        self._con = opened["con"]
        return self._con

    def read_plan(self, path: str, cfg: dict[str, Any]) -> dict[str, Any]:
        """``plan_csv`` of a file under a config, memoised by path and the fields it depends on (a copy: callers
        apply ``dtype`` to it)."""
        fields = json.dumps({k: cfg.get(k) for k in _PLAN_FIELDS}, sort_keys=True, default=str)
        memo = (path, fields)
        if memo not in self._sniffed:
            ident = file_identity(path)
            answers = self._answers()
            key = answers.key("csv-plan", ident, fields) if ident is not None else ""
            stored = answers.get(key) if key else None
            if stored is not None:
                self._sniffed[memo] = stored
            else:
                try:
                    self._sniffed[memo] = plan = plan_csv(path, cfg, self._connect(meanwhile=_import_csv_reader))
                except ImportError:
                    raise
                except Exception as exc:  # duckdb raises several error classes for unreadable files
                    self._sniffed[memo] = exc
                else:
                    if key:
                        answers.put(key, plan)
        found = self._sniffed[memo]
        if isinstance(found, Exception):
            raise found
        return copy.deepcopy(found)

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
        duckdb = duckdb_engine()  # already imported by _connect

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

    def parse(self, query: str) -> str:
        """DuckDB's parser error for ``query`` ("" when it parses), without binding any name. Successes are kept
        across runs (the answer depends on the text and DuckDB's version only)."""
        if query in self._parsed:
            return ""
        answers = self._answers()
        stored_key = answers.key("parse", query)
        if answers.get(stored_key) is not None:
            self._parsed.add(query)
            return ""
        duckdb = duckdb_engine()  # the compiler needs DuckDB only for this pass

        try:
            self._connect().extract_statements(query)
        except duckdb.Error as exc:
            return str(exc)
        self._parsed.add(query)
        answers.put(stored_key, True)
        return ""

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
        return None, SQL_FAILED
    cols = tuple(nodes.Column(r[0], sql.to_logical(r[1]), r[2] != "NO") for r in rows)
    return nodes.Schema(cols, "sql"), ""


def _parse_sql(step: nodes.Step, diags: list[Diagnostic], duck: _Duck, sources: dict[str, str]) -> bool:
    """Report a syntax error in the step's query (DuckDB's parser, no binding); True when it parses."""
    query = step.config.get("query")
    if not isinstance(query, nodes.Str):
        return False
    message = duck.parse(query.value)
    if not message:
        return True
    diags.append(
        error(
            "OSR-E203",
            f"SQL error in step '{step.id}': {_first_line(message)}",
            _error_span(query, message, sources, prefix=""),
            *_notes(message),
        )
    )
    return False


def _root_unknown(step_id: str, known: dict[str, nodes.Schema | None], by_id: dict[str, nodes.Step]) -> nodes.Step:
    """The step whose unknown schema makes ``step_id``'s unknown (follows the first unknown input upstream)."""
    step = by_id[step_id]
    while True:
        nxt = next((i.step for i in step.inputs if known.get(i.step) is None and i.step in by_id), None)
        if nxt is None:
            return step
        step = by_id[nxt]


def _syntax_only(step: nodes.Step, root: nodes.Step, why: dict[str, str]) -> Diagnostic:
    """W211: the step's SQL was only parsed, since an input's columns are unknown; says why and how to fix it."""
    reason = why.get(root.id, "its schema is known only at run time")
    if root.mode == "read" and "introspect" in reason:
        fix = (
            "run `osirisc introspect FILE` to record the source columns in the schema lock, "
            f"or declare `columns:` on step '{root.id}'"
        )
    else:
        fix = f"declare `columns:` on step '{root.id}' so its schema is known at build time"
    query = step.config.get("query")
    return warning(
        "OSR-W211",
        f"step '{step.id}': its SQL was parsed but not checked against its inputs: "
        f"step '{root.id}' has no schema at build time: {reason}",
        (query.span if isinstance(query, nodes.Str) else None) or step.id_span or step.span,
        fix,
    )


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


def _notes(message: str) -> tuple[str, ...]:
    rest = [ln for ln in message.strip().splitlines()[1:] if ln.strip() and not ln.startswith("LINE ")]
    return tuple(ln.strip() for ln in rest if ln.strip().strip("^"))


def _error_span(query: nodes.Str, message: str, sources: dict[str, str], prefix: str = _PREFIX) -> Span | None:
    """The position DuckDB points at, mapped into the file when the query line appears there verbatim.

    ``prefix`` is what DuckDB saw before the query on its first line (``DESCRIBE `` for a description)."""
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
    prefix = prefix if line_no == 1 else ""
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
