"""Valid pipelines of varied DAG shapes whose step configs come from each component's JSON Schema.

``valid_pipelines()`` draws a ``GeneratedPipeline``: the frontend IR (``pipeline``), the environment holding the
secrets its ``${env.NAME}`` fields name (``env``), the ``osiris_connections.yaml`` document its ``@family.alias``
references resolve to (``connections``), small CSV files its extractors read at build time (``files``) and every
secret value generated (``secrets``). ``write_to(folder, syntax)`` puts it on disk for ``osirisc``.

Shapes (``SHAPES``): ``chain`` (read -> transform* -> write), ``fan_out`` (one read feeding several consumers),
``fan_in`` (several reads joined by one transform), ``independent`` (unrelated branches side by side) and
``random`` (any acyclic DAG of the three roles). Configs: required keys, a random subset of optional keys, spec
constraints honoured (``replace``/``upsert`` get a ``primary_key``), secret fields only as ``${env.NAME}`` or left
to a connection, semantic fields (tables, paths, SQL, columns, keys) drawn so that the compiler accepts them.
Osiris alias spellings (``x-aliases``) are not generated (mutations cover them).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import attrs
import yaml
from hypothesis import strategies as st

from osiris.components.registry import ComponentSpec, Registry, default_registry
from osiris.ir import nodes as ir
from osiris.testing.schema_values import from_schema
from osiris.testing.secrets import secret_values

SHAPES = ("chain", "fan_out", "fan_in", "independent", "random")
SUFFIX = {"oml": ".yaml", "text": ".osiris"}

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True) | st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=12
).filter(lambda s: s == s.strip() and len(s.encode()) <= 48 and "${" not in s and s[0] != "@")
"""Names every SQL dialect can quote (no control characters, no edge spaces, short)."""
step_ids = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
env_names = st.from_regex(r"OSRT_[A-Z][A-Z0-9_]{8,14}", fullmatch=True)
aliases = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
rel_paths = st.from_regex(r"[a-z][a-z0-9_]{0,7}(/[a-z][a-z0-9_]{0,7})?", fullmatch=True)
_LOGICAL = ("int64", "int32", "float64", "string", "bool", "date", "decimal(12,2)", "timestamp")


@attrs.frozen
class Node:
    """One step of a shape: its role (read / transform / write) and the indexes of the nodes it needs."""

    role: str
    needs: tuple[int, ...] = ()


@attrs.frozen
class Shape:
    kind: str
    nodes: tuple[Node, ...]


@attrs.frozen
class GeneratedPipeline:
    pipeline: ir.Pipeline
    shape: Shape
    env: dict[str, str] = attrs.field(factory=dict)
    connections: dict[str, Any] = attrs.field(factory=dict)
    files: dict[str, bytes] = attrs.field(factory=dict)
    secrets: tuple[str, ...] = ()

    def write_to(self, folder: Path, syntax: str = "oml") -> Path:
        """Write the pipeline (``pipeline.yaml`` / ``pipeline.osiris``), its CSV files and connections file."""
        from osiris.frontend.print_oml import to_oml
        from osiris.frontend.print_text import to_text

        folder.mkdir(parents=True, exist_ok=True)
        for rel, data in self.files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        if self.connections:
            text = yaml.safe_dump({"connections": self.connections}, sort_keys=True, allow_unicode=True)
            (folder / "osiris_connections.yaml").write_text(text, encoding="utf-8")
        path = folder / ("pipeline" + SUFFIX[syntax])
        path.write_text(to_oml(self.pipeline) if syntax == "oml" else to_text(self.pipeline), encoding="utf-8")
        return path


# --------------------------------------------------------------------------- DAG shapes


@st.composite
def shapes(draw: st.DrawFn, kind: str | None = None, max_steps: int = 6) -> Shape:
    """A DAG of roles in topological order; each read feeds something, each transform has 1+ inputs."""
    kind = kind or draw(st.sampled_from(SHAPES))
    nodes: list[Node] = []
    if kind == "chain":
        nodes.append(Node("read"))
        for _ in range(draw(st.integers(0, 3))):
            nodes.append(Node("transform", (len(nodes) - 1,)))
        nodes.append(Node("write", (len(nodes) - 1,)))
    elif kind == "fan_out":
        nodes.append(Node("read"))
        for _ in range(draw(st.integers(2, 4))):
            nodes.append(Node(draw(st.sampled_from(("write", "transform"))), (0,)))
        for i in [i for i, n in enumerate(nodes) if n.role == "transform"]:
            nodes.append(Node("write", (i,)))
    elif kind == "fan_in":
        reads = draw(st.integers(2, 3))
        nodes += [Node("read") for _ in range(reads)]
        nodes.append(Node("transform", tuple(range(reads))))
        nodes.append(Node("write", (reads,)))
    elif kind == "independent":
        for _ in range(draw(st.integers(2, 3))):
            nodes.append(Node("read"))
            nodes.append(Node("write", (len(nodes) - 1,)))
    else:
        count = draw(st.integers(1, max_steps))
        for i in range(count):
            producers = [j for j, n in enumerate(nodes) if n.role != "write"]
            role = "read" if not producers else draw(st.sampled_from(("read", "transform", "write")))
            if role == "read":
                nodes.append(Node("read"))
            elif role == "write":
                nodes.append(Node("write", (draw(st.sampled_from(producers)),)))
            else:
                picked = draw(st.lists(st.sampled_from(producers), min_size=1, max_size=3, unique=True))
                nodes.append(Node("transform", tuple(sorted(picked))))
            del i
    return Shape(kind, tuple(nodes))


# --------------------------------------------------------------------------- configs from the spec


def _sanitize(step_id: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_]", "_", step_id)
    return "_" + out if out[:1].isdigit() else out


class _Builder:
    """Draws one pipeline; keeps the environment, connections, files and known columns as it goes."""

    def __init__(self, draw: st.DrawFn, registry: Registry):
        self.draw, self.registry = draw, registry
        self.env: dict[str, str] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.secrets: list[str] = []
        self.params: list[ir.Param] = []
        self.columns: dict[str, list[str] | None] = {}
        self.file_columns: dict[str, list[str]] = {}

    def secret(self) -> str:
        value = self.draw(secret_values())
        self.secrets.append(value)
        return value

    def env_ref(self) -> ir.Str:
        name = self.draw(env_names.filter(lambda n: n not in self.env))
        self.env[name] = self.secret()
        return ir.Str("${env." + name + "}")

    def connection(self, spec: ComponentSpec) -> ir.ConnectionRef:
        family = spec.family
        alias = self.draw(aliases)
        fields: dict[str, Any] = {}
        for key in spec.connection_fields:
            if key in spec.secret_fields:
                fields[key] = self.secret()
            elif key in spec.properties and key not in ("schema",):
                fields[key] = self.draw(_field_value(key, spec.properties[key], self, None))
        self.connections.setdefault(family, {})[alias] = fields
        return ir.ConnectionRef(family, alias)

    def config(self, spec: ComponentSpec, step_id: str, inputs: list[str], mode: str) -> ir.Map:
        draw = self.draw
        props = spec.properties
        # Osiris spellings, refused fields and fields with no effect are the mutations' business, not valid input's
        aliased = {*spec.raw.get("x-aliases", {}), *spec.raw.get("x-refused", {}), *spec.raw.get("x-no-effect", {})}
        # `incremental` is valid only with a known cursor column and one upserting writer downstream (OSR-E250..E253):
        # a cross-step rule random configs cannot keep; tests/components/test_incremental.py and the fixtures cover it
        aliased.add("incremental")
        entries: dict[str, ir.Value] = {}
        use_connection = "connection" in props and draw(st.booleans())
        required = set(spec.required)
        if use_connection:
            entries["connection"] = self.connection(spec)
            required -= set(spec.connection_fields)
        upstream = self.columns.get(inputs[0]) if len(inputs) == 1 else None
        optional = sorted(k for k in props if k not in required and k not in aliased and k != "connection")
        chosen = set(draw(st.lists(st.sampled_from(optional), unique=True, max_size=4))) if optional else set()
        for key in sorted(required | chosen):
            if use_connection and spec.connection_fields.get(key) in ("forbidden", "warning"):
                continue
            if key in spec.secret_fields:
                entries[key] = self.env_ref()
            else:
                entries[key] = _to_ir(draw(_field_value(key, props[key], self, upstream)))
        if spec.schema_kind == "sql":  # a DuckDB query over the inputs
            entries["query"] = self.query(inputs)
        if spec.schema_kind == "csv":  # a CSV file to read
            self.csv_file(step_id, entries)
        self.constraints(spec, entries, upstream, use_connection)
        if draw(st.integers(0, 4)) == 0:
            self.parametrize(entries, spec)
        return ir.Map(tuple(ir.Entry(k, v) for k, v in entries.items()))

    def constraints(
        self, spec: ComponentSpec, entries: dict[str, ir.Value], upstream: list[str] | None, use_connection: bool
    ) -> None:
        """Add what the spec's constraints require (``require``: all, ``require_one_of``: one of them), then drop
        what they forbid (``given`` all present -> no ``forbid`` field)."""
        for rule in spec.constraints:
            if "forbid" in rule:
                continue
            data = {k: (v.value if isinstance(v, ir.Str | ir.Int | ir.Bool) else True) for k, v in entries.items()}
            when = rule.get("when", {})
            if not all(_matches(data.get(k), v) for k, v in when.items()):
                continue
            wanted = list(rule.get("require", ()))
            one_of = [k for k in rule.get("require_one_of", ()) if k in spec.properties]
            if one_of and not any(k in entries for k in one_of):
                wanted.append(self.draw(st.sampled_from(one_of)))
            for key in wanted:
                if key in entries or (use_connection and spec.connection_fields.get(key) == "forbidden"):
                    continue
                if key in spec.secret_fields:  # a secret a constraint requires: still never a literal
                    entries[key] = self.env_ref()
                else:
                    entries[key] = _to_ir(self.draw(_field_value(key, spec.properties[key], self, upstream)))
        for rule in spec.constraints:
            if "forbid" in rule and all(k in entries for k in rule["given"]):
                for key in rule["forbid"]:
                    entries.pop(key, None)
        if upstream is not None and "primary_key" in entries:  # the key must name input columns
            entries["primary_key"] = ir.Str(self.draw(st.sampled_from(upstream)))
        part = entries.get("partition")  # a query has no primary key to split on: it names its column (OSR-E165)
        if isinstance(part, ir.Map) and "query" in entries and all(e.key != "column" for e in part.entries):
            entries["partition"] = ir.Map((ir.Entry("column", ir.Str("id")), *part.entries))

    def query(self, inputs: list[str]) -> ir.Value:
        names = [f"df_{_sanitize(i)}" for i in inputs]
        known = [self.columns.get(i) for i in inputs]
        options = [f"SELECT COUNT(*) AS n FROM {', '.join(names)}"]
        if len(inputs) == 1:
            options += ["SELECT * FROM input_df", f"SELECT * FROM {names[0]}\nWHERE 1 = 1"]
        choice = self.draw(st.sampled_from(options))
        if self.draw(st.booleans()) and choice.startswith("SELECT *"):
            name = self.draw(st.from_regex(r"lim_[a-z0-9]{1,4}", fullmatch=True))
            if all(p.name != name for p in self.params):
                self.params.append(ir.Param(name, ir.Int(self.draw(st.integers(0, 1000)))))
                return ir.Template((ir.Str(choice + " LIMIT "), ir.ParamRef(name)))
        del known
        return ir.Str(choice)

    def csv_file(self, step_id: str, entries: dict[str, ir.Value]) -> None:
        path = entries.get("path")
        if not isinstance(path, ir.Str):
            return
        if path.value in self.files:  # another extractor reads the same file: same columns
            self.columns[step_id] = self.file_columns[path.value]
            return
        cols = self.draw(
            st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=4, unique=True)
        )
        rows = self.draw(st.lists(st.tuples(*[st.integers(-1000, 1000) for _ in cols]), max_size=3))
        text = ",".join(cols) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
        self.files[path.value] = text.encode()
        entries.pop("columns", None)
        for key in ("header", "skip_rows", "delimiter", "comment", "dtype", "encoding", "compression", "parse_dates"):
            entries.pop(key, None)  # keep the file readable as written (sniffing is what is exercised)
        self.columns[step_id] = cols
        self.file_columns[path.value] = cols

    def parametrize(self, entries: dict[str, ir.Value], spec: ComponentSpec) -> None:
        """Move one scalar value into a declared parameter (``${params.x}`` as the whole value keeps its type)."""
        keys = [k for k, v in entries.items() if isinstance(v, ir.Int | ir.Bool) and k not in spec.secret_fields]
        if not keys:
            return
        key = self.draw(st.sampled_from(keys))
        name = self.draw(st.from_regex(r"p_[a-z0-9]{1,6}", fullmatch=True))
        if any(p.name == name for p in self.params):
            return
        self.params.append(ir.Param(name, entries[key]))
        entries[key] = ir.ParamRef(name)


@functools.cache
def _sql_keywords() -> frozenset[str]:
    """DuckDB's keywords that cannot stand as a bare name everywhere (``is`` in ``FROM is``): all but unreserved."""
    import duckdb

    query = "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
    with duckdb.connect() as con:
        rows = con.execute(query).fetchall()
    return frozenset(str(r[0]).lower() for r in rows)


_SQL_SAFE = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(lambda t: t not in _sql_keywords())


def _field_value(key: str, schema: dict[str, Any], b: _Builder, upstream: list[str] | None) -> st.SearchStrategy[Any]:
    """Plain data for one config field: semantic fields by name, the rest straight from the JSON Schema."""
    if key == "table":
        return identifiers
    if key == "primary_key":
        if upstream is not None:
            return st.sampled_from(upstream)
        return identifiers | st.lists(identifiers, min_size=1, max_size=2, unique=True)
    if key == "schema":
        return identifiers
    if key == "columns":
        return st.lists(_SQL_SAFE, min_size=1, max_size=3, unique=True)
    if key == "path":
        return rel_paths.map(lambda p: p + ".csv")
    if key == "query":
        return _SQL_SAFE.map(lambda t: f"SELECT * FROM {t}")
    if key in ("host",):
        return st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5})?", fullmatch=True)
    if key in ("user", "database"):
        return _SQL_SAFE
    if key == "url":
        return st.from_regex(r"https://[a-z]{3,10}\.supabase\.co", fullmatch=True)
    if key == "select":
        return st.lists(_SQL_SAFE, min_size=1, max_size=3, unique=True).map(",".join)
    if key == "dtype":
        return st.dictionaries(_SQL_SAFE, st.sampled_from(_LOGICAL), max_size=2)
    if key in ("filter", "order"):
        return st.just({}) if key == "filter" else _SQL_SAFE
    return from_schema(schema).filter(_harmless)


def _matches(value: Any, condition: Any) -> bool:
    if condition is None:
        return value is None
    return value in condition if isinstance(condition, list) else bool(value == condition)


def _harmless(value: Any) -> bool:
    """No generated value may look like a secret or a reference (the compiler would rightly reject it)."""
    from osiris.passes.redact_secrets import find_secrets

    if isinstance(value, str):
        return not value.startswith("@") and "${" not in value and not any(find_secrets(value))
    if isinstance(value, list):
        return all(_harmless(v) for v in value)
    if isinstance(value, dict):
        return all(_harmless(v) for v in value.values()) and all(_harmless(k) for k in value)
    return True


def _to_ir(value: Any) -> ir.Value:
    if isinstance(value, bool):
        return ir.Bool(value)
    if isinstance(value, int):
        return ir.Int(value)
    if isinstance(value, float):
        return ir.Float(value)
    if isinstance(value, str):
        return ir.Str(value)
    if value is None:
        return ir.Null()
    if isinstance(value, list):
        return ir.List(tuple(_to_ir(v) for v in value))
    return ir.Map(tuple(ir.Entry(str(k), _to_ir(v)) for k, v in value.items()))


def components_by_role(registry: Registry) -> dict[str, list[str]]:
    """Component names per pipeline role, from the specs' modes. A spec whose config schema has conditional rules
    of its own (``allOf``/``if``: the API extractors' field refusals) is left out: this generator satisfies the
    ``constraints`` block, not arbitrary JSON Schema logic, and those components have their own tests."""
    roles: dict[str, list[str]] = {"read": [], "transform": [], "write": []}
    for spec in registry:
        if {"allOf", "anyOf", "oneOf", "if", "not"} & set(spec.config_schema):
            continue
        for mode, role in (("extract", "read"), ("transform", "transform"), ("write", "write")):
            if mode in spec.modes:
                roles[role].append(spec.name)
    return roles


@st.composite
def valid_pipelines(
    draw: st.DrawFn, kind: str | None = None, registry: Registry | None = None, max_steps: int = 6
) -> GeneratedPipeline:
    """A pipeline ``osirisc check`` accepts without errors (see the module docstring)."""
    registry = registry or default_registry()
    roles = components_by_role(registry)
    shape = draw(shapes(kind, max_steps))
    b = _Builder(draw, registry)
    ids = draw(st.lists(step_ids, min_size=len(shape.nodes), max_size=len(shape.nodes), unique=True))
    steps = []
    for i, node in enumerate(shape.nodes):
        component = draw(st.sampled_from(roles[node.role]))
        spec = registry.get(component)
        assert spec is not None
        inputs = [ids[j] for j in node.needs]
        config = b.config(spec, ids[i], inputs, node.role)
        if spec.schema_kind == "sql":
            b.columns[ids[i]] = None if "COUNT" not in str(ir.plain(config.get("query") or ir.Null())) else ["n"]
            query = config.get("query")
            if str(ir.plain(query or ir.Null())).startswith("SELECT * ") and len(inputs) == 1:
                b.columns[ids[i]] = b.columns.get(inputs[0])
        # needs: explicit, or implicit (a consumer right after its only producer may omit it)
        implicit_ok = node.role != "read" and len(node.needs) == 1 and node.needs[0] == i - 1
        needs: tuple[str, ...] | None = tuple(inputs)
        if (implicit_ok and draw(st.booleans())) or (node.role == "read" and draw(st.booleans())):
            needs = None
        steps.append(ir.Step(id=ids[i], component=component, mode=node.role, config=config, needs=needs))
    name = draw(st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True))
    pipeline = ir.Pipeline(name=name, oml_version="0.1.0", steps=tuple(steps), params=tuple(b.params))
    return GeneratedPipeline(pipeline, shape, b.env, b.connections, b.files, tuple(b.secrets))
