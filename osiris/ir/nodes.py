"""The typed IR: frozen attrs classes, child sequences as tuples, spans that never affect equality.

Both frontends lower to these nodes; every pass takes a ``Pipeline`` and returns a new one (``attrs.evolve``).
Config values are typed nodes, and the two kinds of embedded reference are parsed, not left in strings:
``@family.alias`` becomes ``ConnectionRef`` and ``${params.x}`` becomes ``ParamRef`` (a whole value) or a
``Template`` (text with placeholders inside). ``SecretRef`` only appears after the ``redact_secrets`` pass.
"""

from __future__ import annotations

from typing import Any, Union

import attrs

from osiris.ir.span import Span

_span = attrs.field(default=None, eq=False, repr=False)


# --------------------------------------------------------------------------- config values


@attrs.frozen
class Str:
    value: str
    span: Span | None = _span


@attrs.frozen
class Int:
    value: int
    span: Span | None = _span


@attrs.frozen
class Float:
    value: float
    span: Span | None = _span


@attrs.frozen
class Bool:
    value: bool
    span: Span | None = _span


@attrs.frozen
class Null:
    span: Span | None = _span


@attrs.frozen
class ConnectionRef:
    """``@family.alias``: a connection from ``osiris_connections.yaml``, resolved at run time only."""

    family: str
    alias: str
    span: Span | None = _span

    def __str__(self) -> str:
        return f"@{self.family}.{self.alias}"


@attrs.frozen
class ParamRef:
    """``${params.name}`` standing for a whole value: it takes the parameter's type when resolved."""

    name: str
    span: Span | None = _span


@attrs.frozen
class Template:
    """A string with ``${params.x}`` placeholders inside; ``parts`` alternate text and ``ParamRef``s."""

    parts: tuple[Str | ParamRef, ...]
    span: Span | None = _span


@attrs.frozen
class SecretRef:
    """A secret, by reference only: ``source`` is ``connection`` (field of ``ref``'s connection) or ``env``.

    For ``env`` the ``name`` is the environment variable; for ``connection`` it is the connection field.
    """

    source: str
    name: str
    ref: ConnectionRef | None = None
    span: Span | None = _span


@attrs.frozen
class List:
    items: tuple[Value, ...]
    span: Span | None = _span


@attrs.frozen
class Entry:
    """One ``key: value`` of a ``Map``; the key keeps its own span for diagnostics about it."""

    key: str
    value: Value
    key_span: Span | None = _span


@attrs.frozen
class Map:
    entries: tuple[Entry, ...] = ()
    span: Span | None = _span

    def get(self, key: str) -> Value | None:
        for entry in self.entries:
            if entry.key == key:
                return entry.value
        return None

    def entry(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None

    def keys(self) -> tuple[str, ...]:
        return tuple(e.key for e in self.entries)


Value = Union[Str, Int, Float, Bool, Null, List, Map, ConnectionRef, ParamRef, Template, SecretRef]  # noqa: UP007
VALUE_TYPES = (Str, Int, Float, Bool, Null, List, Map, ConnectionRef, ParamRef, Template, SecretRef)


# --------------------------------------------------------------------------- pipeline structure


@attrs.frozen
class Param:
    """A declared parameter; ``default`` is None when the parameter must be given."""

    name: str
    default: Value | None = None
    description: str | None = None
    span: Span | None = _span


@attrs.frozen
class Profile:
    """A named set of parameter values (``--profile NAME``)."""

    name: str
    params: Map = Map()
    span: Span | None = _span


@attrs.frozen
class Input:
    """An upstream step as a transform sees it: ``name`` is the SQL table name (``df_<id>`` or ``input_df``)."""

    step: str
    name: str


@attrs.frozen
class Column:
    """One output column: ``type`` is a logical type string (docs/ddl.md: ``int64``, ``decimal(12,2)``...)."""

    name: str
    type: str
    nullable: bool = True
    span: Span | None = _span


@attrs.frozen
class Schema:
    """A step's output columns; ``source`` says where they came from: declared, lock, csv or sql."""

    columns: tuple[Column, ...] = ()
    source: str = ""


@attrs.frozen
class Step:
    """One step. ``needs`` is None when the file gave none (the implicit rule of docs/oml.md applies) and ``()`` for a
    declared root. ``inputs`` and the resolved fields are filled by passes."""

    id: str
    component: str
    mode: str
    config: Map = Map()
    needs: tuple[str, ...] | None = None
    span: Span | None = _span
    id_span: Span | None = _span
    component_span: Span | None = _span
    mode_span: Span | None = _span
    needs_spans: tuple[Span | None, ...] = attrs.field(default=(), eq=False, repr=False)
    # Filled by passes ------------------------------------------------------------------------
    inputs: tuple[Input, ...] = ()
    schema: Schema | None = None  # infer_schemas; None = unknown until run time
    # plan_ddl, writers only: the write plan of docs/ddl.md as plain JSON data (never mutated; not hashed)
    write: dict[str, Any] | None = attrs.field(default=None, hash=False)


@attrs.frozen
class Pipeline:
    name: str
    oml_version: str
    steps: tuple[Step, ...]
    description: str | None = None
    metadata: Map | None = None
    schedule: Value | None = None
    params: tuple[Param, ...] = ()
    profiles: tuple[Profile, ...] = ()
    span: Span | None = _span
    name_span: Span | None = _span
    # Filled by passes ------------------------------------------------------------------------
    order: tuple[str, ...] = ()

    def step(self, step_id: str) -> Step | None:
        for s in self.steps:
            if s.id == step_id:
                return s
        return None


def data(value: Value) -> Any:
    """A config value as data (JSON Schema validation, the plan, fingerprints): ``plain``, but a connection reference
    is its ``@family.alias`` text."""
    match value:
        case ConnectionRef():
            return str(value)
        case List():
            return [data(v) for v in value.items]
        case Map():
            return {e.key: data(e.value) for e in value.entries}
    return plain(value)


def plain(value: Value) -> object:
    """A config value as plain Python data (for JSON Schema validation and the plan).

    References become marker objects with one ``$``-key so they can never be mistaken for user data:
    ``{"$connection": "@mysql.default"}``, ``{"$param": "x"}``, ``{"$secret": {...}}``.
    """
    match value:
        case Str() | Int() | Float() | Bool():
            return value.value
        case Null():
            return None
        case List():
            return [plain(v) for v in value.items]
        case Map():
            return {e.key: plain(e.value) for e in value.entries}
        case ConnectionRef():
            return {"$connection": str(value)}
        case ParamRef():
            return {"$param": value.name}
        case Template():
            return "".join(p.value if isinstance(p, Str) else "${params." + p.name + "}" for p in value.parts)
        case SecretRef():
            secret: dict[str, object] = {"source": value.source, "name": value.name}
            if value.ref is not None:
                secret["connection"] = str(value.ref)
            return {"$secret": secret}
    raise TypeError(f"not an IR value: {value!r}")
