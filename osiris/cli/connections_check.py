"""The connections file, checked against the pipeline before anything runs (``osirisc check`` and ``osirisc run``).

When ``osiris_connections.yaml`` is found (as the runtime finds it), each ``@family.alias`` a step uses must exist
(OSR-E312 / OSR-E313, with "did you mean"), each field of that alias must be a config field of the step's component
with a value of the right type (OSR-E316 at the field, in the connections file), and the connection must name its
server, database and user itself (OSR-E316; no client library default or PG*/MYSQL* variable fills a gap). Values
with ``${VAR}`` are only known at run time and are not checked here. Nothing here reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from osiris.components.registry import ComponentSpec, Registry
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, did_you_mean, error, warning
from osiris.ir.span import Span
from osiris.runtime.connections import SERVER_DIALECTS, find_file, route_problems
from osiris.secrets import marker_of

# Fields of Osiris's connection files (its `osiris init` template) that no component config has: family -> field
# -> why osirisc does not use it. Giving one is warning OSR-W316, not the unknown-field error.
OSIRIS_CONNECTION_ONLY: dict[str, dict[str, str]] = {
    "mysql": {"timeout": "osirisc connects with its own 10 s connect timeout (Osiris reads it only in its doctor)"},
    "supabase": {"anon_key": "a Supabase REST API key; osirisc reads and writes through PostgreSQL (pg_dsn)"},
}
# Keys of a connection that describe it rather than configure a component: `default: true` picks the alias,
# `description` documents it (Osiris's template writes one).
META_FIELDS = frozenset({"default", "description"})

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _span(file: str, node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


class _File:
    """The connections file with the position of every family, alias and field."""

    def __init__(self, path: Path, text: str):
        try:  # as the user would type it: relative to the working directory when inside it
            self.name = str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            self.name = str(path)
        self.text = text
        self.data: dict[str, Any] = {}
        self.spans: dict[tuple[str, ...], Span] = {}
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
        conns = data.get("connections") if isinstance(data, dict) else None
        if not isinstance(root, yaml.MappingNode) or not isinstance(conns, dict):
            return
        self.data = conns
        for key, value in root.value:
            if key.value == "connections":
                self._index(value, ())

    def _index(self, node: yaml.Node, where: tuple[str, ...]) -> None:
        if not isinstance(node, yaml.MappingNode) or len(where) >= 3:
            return
        for key, value in node.value:
            self.spans[(*where, str(key.value))] = _span(self.name, key)
            self.spans[(*where, str(key.value), "=")] = _span(self.name, value)
            self._index(value, (*where, str(key.value)))


def _type_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not fit a field's schema (type, enum, range), or None. A digit string is a fine integer."""
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if "integer" in kinds and isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if kinds and not any(
        isinstance(value, _TYPES.get(k, ())) and not (isinstance(value, bool) and k in ("integer", "number"))
        for k in kinds
    ):
        return f"must be {' or '.join(kinds)}"
    if "enum" in schema and value not in schema["enum"]:
        return "must be one of " + ", ".join(map(str, schema["enum"]))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"must be at most {schema['maximum']}"
    return None


def _known(value: Any) -> bool:
    """A value fixed in the file (``${VAR}`` is only known at run time)."""
    return not (isinstance(value, str) and "${" in value)


def _choose(aliases: Mapping[str, Any], alias: str | None) -> tuple[str | None, str | None]:
    """(alias, None) as the runtime would choose it, or (None, why not)."""
    if alias == "default" and alias not in aliases:
        alias = None
    if alias is not None:
        return (alias, None) if alias in aliases else (None, "unknown")
    marked = sorted(a for a, f in aliases.items() if isinstance(f, dict) and f.get("default") is True)
    if len(marked) == 1:
        return marked[0], None
    if not marked and "default" in aliases:
        return "default", None
    return None, "several are marked default: true" if marked else "none is marked default: true"


def _step_diagnostics(
    step: nodes.Step, spec: ComponentSpec, ref: nodes.ConnectionRef, f: _File, family_fields: frozenset[str]
) -> Iterator[Diagnostic]:
    aliases = f.data.get(ref.family)
    if not isinstance(aliases, dict) or not aliases:
        hint = did_you_mean(ref.family, f.data)
        notes = [hint] if hint else []
        yield error("OSR-E312", f"no '{ref.family}' connections in {f.name}", ref.span, *notes)
        return
    name, why = _choose(aliases, ref.alias)
    if name is None:
        listed = ", ".join(sorted(aliases))
        if why == "unknown":
            hint = did_you_mean(str(ref.alias), aliases)
            msg = f"connection '@{ref.family}.{ref.alias}' is not in {f.name} (has: {listed})"
            yield error("OSR-E312", msg, ref.span, *([hint] if hint else []))
        else:
            yield error(
                "OSR-E313", f"'@{ref.family}' names no alias and {why} in {f.name}; aliases: {listed}", ref.span
            )
        return
    fields = aliases[name] if isinstance(aliases[name], dict) else {}
    where = f"connection '@{ref.family}.{name}' in {f.name} (step '{step.id}')"
    for field, value in fields.items():
        if field not in META_FIELDS:
            yield from _field_diagnostics(
                step, spec, (ref.family, name, field), value, f=f, where=where, family_fields=family_fields
            )
    dialect = spec.dialect
    if dialect is None or dialect not in SERVER_DIALECTS:
        return
    config = {e.key: e.value for e in step.config.entries if e.key != "connection"}
    given = {k: _given_value(v) for k, v in config.items()}
    merged = {**fields, **{k: v for k, v in given.items() if v is not None}}
    if any(not _known(merged.get(k)) for k in ("pg_dsn", "dsn") if merged.get(k) is not None):
        return  # the DSN comes from the environment: the runtime checks its route before connecting
    known = {k: (v if _known(v) else "(set at run time)") for k, v in merged.items()}
    for field, problem, fix in route_problems(dialect, known):
        if field == "port" and not _known(merged.get("port")):
            continue
        span = f.spans.get((ref.family, name, field)) or f.spans.get((ref.family, name))
        yield error("OSR-E316", f"{where}: field '{field}' {problem}", span, fix)


def _field_diagnostics(
    step: nodes.Step,
    spec: ComponentSpec,
    key: tuple[str, str, str],
    value: Any,
    *,
    f: _File,
    where: str,
    family_fields: frozenset[str],
) -> Iterator[Diagnostic]:
    """Problems of one field of the step's connection: unknown, of the wrong type, or one the component does not
    take from a connection (accepted there, it would be ignored: warning OSR-W316)."""
    family, field = key[0], key[2]
    span = f.spans.get(key)
    schema = spec.properties.get(field)
    unused = OSIRIS_CONNECTION_ONLY.get(family, {}).get(field)
    if unused is not None and schema is None:
        yield warning("OSR-W316", f"{where}: field '{field}' has no effect in osirisc: {unused}", span, "remove it")
        return
    if field in family_fields and schema is None:
        return  # a field of the connection's own family (a Supabase ``url`` read through postgres.writer)
    if schema is None or field == "connection":
        hint = did_you_mean(field, [p for p in (*spec.properties, *family_fields) if p != "connection"])
        notes = [hint] if hint else []
        msg = f"{where}: unknown field '{field}' for {spec.name}"
        yield error("OSR-E316", msg, span, *notes, f"`osirisc components show {spec.name}` lists the fields")
        return
    if field not in spec.connection_fields:  # the step's config (or the spec's default) is what the run reads
        yield warning(
            "OSR-W316",
            f"{where}: field '{field}' has no effect: {spec.name} does not take it from a connection",
            span,
            f"set `{field}` in the step's config, and remove it here",
        )
        return
    if _known(value) and value is not None:
        problem = _type_problem(value, schema) or _schema_problem(step, spec, field, value)
        if problem:
            value_span = f.spans.get((*key, "="), span)
            secret = field in spec.secret_fields
            yield error(
                "OSR-E316",
                f"{where}: field '{field}' {problem}",
                value_span,
                redact=[value_span] if secret and value_span else [],
            )


def _schema_problem(step: nodes.Step, spec: ComponentSpec, field: str, value: Any) -> str | None:
    """Why a connection's ``schema`` cannot name a schema of the step's dialect (the run plans its target, or reads
    its source, there when the step sets none), or None."""
    from osiris.dialects import PlanError, dialect

    if field != "schema" or spec.dialect is None or step.config.get("schema") is not None:
        return None
    try:
        return dialect(spec.dialect).check_ident(str(value))
    except PlanError:  # no SQL dialect (csv): no schema to name
        return None


def _given_value(value: nodes.Value) -> Any:
    if isinstance(value, nodes.SecretRef | nodes.ConnectionRef | nodes.ParamRef | nodes.Template):
        return "(set at run time)"
    plain = nodes.plain(value)
    return "(set at run time)" if marker_of(plain) is not None else plain


def connection_diagnostics(
    pipeline: nodes.Pipeline, registry: Registry, base_dir: Path, sources: dict[str, str], explicit: str | None = None
) -> list[Diagnostic]:
    """Problems of the connections the pipeline uses, when a connections file is found (its text is added to
    ``sources`` so diagnostics quote it, masked)."""
    refs = [(s, s.config.get("connection")) for s in pipeline.steps]
    used = [(s, r) for s, r in refs if isinstance(r, nodes.ConnectionRef)]
    if not used:
        return []
    try:
        path = find_file(explicit, base_dir, os.environ)
        if path is None:
            return []
        f = _File(path, path.read_text(encoding="utf-8"))
    except Exception:  # unreadable or not YAML: the runtime reports it (OSR-E311) when the pipeline runs
        return []
    sources.setdefault(f.name, f.text)
    out: list[Diagnostic] = []
    for step, ref in used:
        spec = registry.get(step.component)
        if spec is not None and isinstance(ref, nodes.ConnectionRef):
            family = frozenset(  # the family's config fields and the fields its specs say a connection provides
                p
                for other in registry
                if other.family == ref.family
                for p in (*other.properties, *other.connection_fields)
            )
            out += _step_diagnostics(step, spec, ref, f, family)
    return out
