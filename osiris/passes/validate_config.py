"""validate_config: each step's config against its spec (JSON Schema 2020-12, connections, constraints), then the
effective config with the schema's defaults filled in.

- Every schema error is reported at the offending value (walking the IR by the error's path), an unknown key at
  the key (with "did you mean"), a missing key at the step's config. Messages never quote a secret field's value.
- ``connection: "@family.alias"``: the family must be one the component accepts (``ComponentSpec.families``: its
  own, plus its spec's ``x-compiler.connection-families``; ``postgres.*`` also accept ``@supabase`` and Osiris's
  ``@postgresql``: a Supabase project is a PostgreSQL database). Fields the connection provides
  (``x-connection-fields``) are then not required; a step overriding a ``forbidden`` one is an error, a
  ``warning`` one a warning.
- Spec ``constraints`` (``when`` -> ``require`` / ``require_one_of``), e.g. replace/upsert need ``primary_key``.
- ``x-aliases`` (Osiris spellings such as mysql.writer's ``mode``/``upsert_keys``) are renamed, with a warning.
- Defaults from the schema are appended (no span), except fields a given connection provides.

Before: ``{connection: "@mysql.db", table: t}`` on mysql.writer -> ``{..., write_mode: append, create_if_missing:
false, schema_evolution: fail, batch_size: 10000, ...}``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import attrs

from osiris import canonical
from osiris.components.registry import ComponentSpec
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, did_you_mean, error, warning
from osiris.ir.span import Span
from osiris.passes import quick_schema
from osiris.passes.base import PassContext, PassResult
from osiris.secrets import is_secret_name

if TYPE_CHECKING:
    import jsonschema

_RANGE = {
    "minimum": "at least {v}",
    "maximum": "at most {v}",
    "exclusiveMinimum": "more than {v}",
    "exclusiveMaximum": "less than {v}",
    "minLength": "at least {v} character(s) long",
    "maxLength": "at most {v} character(s) long",
    "minItems": "a list of at least {v} item(s)",
    "maxItems": "a list of at most {v} item(s)",
}
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def from_data(data: Any) -> nodes.Value:
    """A default from a schema as an IR value (no span: it is not in the file)."""
    if isinstance(data, bool):
        return nodes.Bool(data)
    if isinstance(data, int):
        return nodes.Int(data)
    if isinstance(data, float):
        return nodes.Float(data)
    if isinstance(data, str):
        return nodes.Str(data)
    if isinstance(data, list):
        return nodes.List(tuple(from_data(v) for v in data))
    if isinstance(data, dict):
        return nodes.Map(tuple(nodes.Entry(str(k), from_data(v)) for k, v in data.items()))
    return nodes.Null()


def locate(config: nodes.Map, path: deque[Any] | list[Any]) -> tuple[nodes.Value, Span | None]:
    """The IR node at a JSON path inside the config, and the nearest span on the way."""
    node: nodes.Value = config
    span = config.span
    for part in path:
        if isinstance(node, nodes.Map) and isinstance(part, str) and node.get(part) is not None:
            node = node.get(part)  # type: ignore[assignment]
        elif isinstance(node, nodes.List) and isinstance(part, int) and part < len(node.items):
            node = node.items[part]
        else:
            break
        span = node.span or span
    return node, span


def _expected(schema: dict[str, Any]) -> str:
    """What a (sub)schema wants, in words."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_expected(s) for s in schema[key])
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if types:
        words = [_TYPE_NAMES.get(t, t) for t in types]
        if "array" in types and isinstance(schema.get("items"), dict) and "type" in schema["items"]:
            words[types.index("array")] = f"a list of {_expected(schema['items']).removeprefix('a ')}s"
        return " or ".join(words)
    return "a valid value"


@attrs.define
class _SchemaMemo:
    """For one run of the pass: a validator per (component, with connection), and the (schema, data) pairs found
    valid (canonical JSON of the data), so repeated configs are validated once. Errors are never kept."""

    validators: dict[tuple[str, bool], Any] = attrs.Factory(dict)
    valid: set[tuple[tuple[str, bool], str]] = attrs.Factory(set)


def _draft() -> Any:
    import jsonschema  # only a config quick_schema cannot call valid needs it (~25 ms of start-up)

    return jsonschema.Draft202012Validator


class _StepCheck:
    """Validation of one step's config; collects diagnostics."""

    def __init__(self, step: nodes.Step, spec: ComponentSpec):
        self.step, self.spec = step, spec
        self.config = step.config
        self.where = step.config.span or step.span
        self.diagnostics: list[Diagnostic] = []
        self.connection: nodes.ConnectionRef | None = None

    def err(self, code: str, message: str, span: Span | None, *notes: str) -> None:
        self.diagnostics.append(error(code, message, span or self.where, *notes))

    def field(self, path: list[Any] | deque[Any]) -> str:
        return "/".join(str(p) for p in path)

    # ------------------------------------------------------------------ connection
    def check_connection(self) -> None:
        entry = self.config.entry("connection")
        if entry is None or "connection" not in self.spec.properties:
            return
        value = entry.value
        if isinstance(value, nodes.ConnectionRef):
            if value.family not in self.spec.families:
                want = " or ".join(f'"@{f}.<alias>"' for f in self.spec.families)
                self.err(
                    "OSR-E156",
                    f"connection family '{value.family}' does not match component '{self.spec.name}'",
                    value.span or entry.key_span,
                    f"use a {want} connection",
                )
            else:
                self.connection = value
        elif not isinstance(value, nodes.Null):
            family = self.spec.family
            self.err(
                "OSR-E157",
                "`connection` must be a connection reference",
                value.span or entry.key_span,
                f'write connection: "@{family}.<alias>" (quoted: YAML reads a bare @ as an error)',
            )

    def check_overrides(self) -> None:
        if self.connection is None:
            return
        for entry in self.config.entries:
            policy = self.spec.connection_fields.get(entry.key)
            if entry.value == self.connection:  # `password: "@fam.alias"`: that connection's own field
                continue
            if policy == "forbidden":
                self.err(
                    "OSR-E158",
                    f"'{entry.key}' is provided by connection {self.connection} and may not be overridden here",
                    entry.key_span,
                    "remove it, or change it in osiris_connections.yaml",
                )
            elif policy == "warning":
                self.diagnostics.append(
                    warning(
                        "OSR-W158",
                        f"'{entry.key}' overrides the value of connection {self.connection}",
                        entry.key_span or self.where,
                        "prefer changing it in osiris_connections.yaml",
                    )
                )

    # ------------------------------------------------------------------ schema
    def schema(self) -> dict[str, Any]:
        schema = dict(self.spec.config_schema)
        if self.config.get("connection") is not None:  # a bad reference is reported once, by check_connection
            schema["required"] = [r for r in self.spec.required if r not in self.spec.connection_fields]
        return schema

    def check_schema(self, memo: _SchemaMemo | None = None) -> None:
        data = nodes.data(self.config)
        secret = self.spec.secret_fields
        # a secret field's value is not checked against the schema: a placeholder (${env.NAME}, @family.alias) stands
        # for a secret (present, but not the value itself), and a literal secret (anything else but null or "") is
        # redact_secrets' OSR-E180, whose fix (a reference) also mends its type: one mistake, reported once
        stand_ins = {
            k
            for k, v in (data.items() if isinstance(data, dict) else ())
            if (k in secret or is_secret_name(k)) and v not in (None, "")
        }
        seen_data: tuple[tuple[str, bool], str] | None = None
        validator: Any
        if memo is None:
            validator = _draft()(self.schema())
        else:
            schema_key = (self.spec.name, self.config.get("connection") is not None)
            try:
                seen_data = (schema_key, canonical.dumps(data))
            except (TypeError, ValueError):  # not canonical JSON (NaN): validated every time
                seen_data = None
            if seen_data in memo.valid:  # the same data against the same schema: valid again (errors never kept)
                return
            if quick_schema.verdict(self.schema(), data) is True:  # plainly valid: no jsonschema needed
                if seen_data is not None:
                    memo.valid.add(seen_data)
                return
            validator = memo.validators.get(schema_key)
            if validator is None:
                validator = memo.validators[schema_key] = _draft()(self.schema())
        errors = sorted(validator.iter_errors(data), key=lambda e: ([str(p) for p in e.absolute_path], e.validator))
        seen: set[tuple[str, ...]] = set()
        for e in errors:
            key = (*map(str, e.absolute_path), e.validator, e.message)
            if e.absolute_path and e.absolute_path[0] in stand_ins:
                continue
            if key not in seen and not (e.absolute_path and e.absolute_path[0] == "connection"):
                seen.add(key)
                self.report(e)
        if memo is not None and seen_data is not None and not errors:
            memo.valid.add(seen_data)

    def report(self, e: jsonschema.ValidationError) -> None:
        path = list(e.absolute_path)
        node, span = locate(self.config, path)
        name = self.field(path) or "config"
        top = str(path[0]) if path else ""
        secret = top in self.spec.secret_fields
        kind = e.validator
        sub: dict[str, Any] = dict(e.schema) if isinstance(e.schema, dict) else {}
        required: Any = e.validator_value
        if kind == "additionalProperties" and isinstance(node, nodes.Map):
            allowed = set(e.schema.get("properties", {})) if isinstance(e.schema, dict) else set()
            for entry in node.entries:
                if entry.key not in allowed:
                    hint = did_you_mean(entry.key, allowed)
                    where = f"'{self.spec.name}'" if not path else f"'{name}'"
                    self.err(
                        "OSR-E150",
                        f"unknown config key '{entry.key}' for {where}",
                        entry.key_span or span,
                        *([hint] if hint else []),
                        f"`osirisc components show {self.spec.name}` lists the keys",
                    )
        elif kind == "required":
            missing = [r for r in required if isinstance(e.instance, dict) and r not in e.instance]
            for key in [k for k in missing if e.message.startswith(repr(k))] or missing:
                prop = self.spec.properties.get(key, {}) if not path else {}
                notes = [prop["description"]] if prop.get("description") else []
                if key in self.spec.connection_fields:
                    notes.append(f'or give a connection: connection: "@{self.spec.family}.<alias>"')
                self.err("OSR-E151", f"missing required config key '{key}' in step '{self.step.id}'", span, *notes)
        elif kind == "type":
            got = "" if secret else f", got {_describe(e.instance)}"
            self.err("OSR-E152", f"'{name}' must be {_expected(sub)}{got}", span)
        elif kind in ("oneOf", "anyOf"):
            self.err("OSR-E152", f"'{name}' must be {_expected(sub)}", span)
        elif kind in ("enum", "const") and self.refused_value(path, e.instance, span):
            pass
        elif kind in ("enum", "const"):
            got = "" if secret else f" {e.instance!r} is not allowed;"
            self.err("OSR-E153", f"'{name}':{got} expected {_expected(sub)}", span)
        elif kind in _RANGE:
            self.err("OSR-E154", f"'{name}' must be {_RANGE[kind].format(v=e.validator_value)}", span)
        elif kind == "uniqueItems":
            self.err("OSR-E154", f"'{name}' must not repeat items", span)
        elif kind == "pattern":
            if top == "connection":
                self.err(
                    "OSR-E157",
                    "`connection` must be a connection reference",
                    span,
                    f'write connection: "@{self.spec.family}.<alias>"',
                )
            else:
                self.err("OSR-E155", f"'{name}' does not have the expected form (pattern {e.validator_value})", span)
        else:
            self.err("OSR-E159", f"'{name}' is not valid: {e.message if not secret else kind}", span)

    def refused_value(self, path: list[Any], value: Any, span: Span | None) -> bool:
        """An Osiris value of an enum field that osirisc refuses (spec ``x-refused-values``): OSR-E162 with the
        reason, instead of the plain enum error."""
        refused: dict[str, dict[str, str]] = self.spec.raw.get("x-refused-values", {})
        why = refused.get(str(path[0]), {}).get(value) if len(path) == 1 and isinstance(value, str) else None
        if why is None:
            return False
        self.err("OSR-E162", f"'{path[0]}: {value}' is not supported by osirisc", span, why)
        return True

    # ------------------------------------------------------------------ aliases, constraints, defaults
    def rename_aliases(self) -> nodes.Map:
        aliases: dict[str, str] = self.spec.raw.get("x-aliases", {})
        entries = list(self.config.entries)
        keys = {e.key for e in entries}
        for i, entry in enumerate(entries):
            new = aliases.get(entry.key)
            if new is None:
                continue
            if new in keys:
                self.err("OSR-E160", f"'{entry.key}' and '{new}' mean the same; give only '{new}'", entry.key_span)
                continue
            self.diagnostics.append(
                warning(
                    "OSR-W160",
                    f"'{entry.key}' is the Osiris spelling of '{new}'",
                    entry.key_span or self.where,
                    f"write '{new}' instead",
                )
            )
            entries[i] = attrs.evolve(entry, key=new)
        return attrs.evolve(self.config, entries=tuple(entries))

    def check_constraints(self, config: nodes.Map) -> None:
        data = nodes.data(config)
        for rule in self.spec.constraints:
            when = rule.get("when", {})
            if not all(_matches(data.get(k), v) for k, v in when.items()):
                continue
            if "forbid" in rule:
                self._forbid(config, data, rule)
                continue
            fields = (*rule.get("require", ()), *rule.get("require_one_of", ()))
            present = [k for k in fields if data.get(k) is not None]
            if "require" in rule:
                missing = [k for k in rule["require"] if k not in present]
                if not missing:
                    continue
                what = "missing " + ", ".join(f"'{k}'" for k in missing)
            elif present:
                continue
            else:
                what = "missing one of " + ", ".join(f"'{k}'" for k in rule["require_one_of"])
            anchor = next((k for k, v in when.items() if v is not None and config.get(k) is not None), None)
            span = (config.get(anchor).span if anchor else None) or self.where  # type: ignore[union-attr]
            self.err("OSR-E159", f"step '{self.step.id}': {what}: {rule['message']}", span)

    def _forbid(self, config: nodes.Map, data: dict[str, Any], rule: dict[str, Any]) -> None:
        """A ``{given: [...], forbid: [...]}`` rule: with every ``given`` field present, each ``forbid`` one is an
        error at its key (it would otherwise be accepted and not used)."""
        if not all(data.get(k) is not None for k in rule["given"]):
            return
        for entry in config.entries:
            prop = self.spec.properties.get(entry.key)
            default = prop.get("default") if isinstance(prop, dict) else None
            if entry.key in rule["forbid"] and data.get(entry.key) not in (None, default):  # a default changes nothing
                others = ", ".join(f"'{k}'" for k in rule["given"] if k != entry.key)
                self.err(
                    "OSR-E159",
                    f"step '{self.step.id}': '{entry.key}' cannot be used {f'with {others}' if others else 'here'}: "
                    f"{rule['message']}",
                    entry.key_span or self.where,
                )

    def check_no_effect(self, config: nodes.Map) -> None:
        """Warn (OSR-W161) about each given field the spec keeps only so Osiris files load (``x-no-effect``); refuse
        (OSR-E161) each field the spec refuses (``x-refused``)."""
        refused: dict[str, str] = self.spec.raw.get("x-refused", {})
        reasons: dict[str, str] = self.spec.raw.get("x-no-effect", {})
        for entry in config.entries:
            if entry.key in refused:
                self.err("OSR-E161", f"'{entry.key}' is not supported by osirisc: {refused[entry.key]}", entry.key_span)
            elif entry.key == "partition" and self.spec.raw.get("modes") == ["extract"]:
                part = nodes.plain(entry.value)
                if isinstance(part, dict) and "column" not in part and any(e.key == "query" for e in config.entries):
                    self.err(
                        "OSR-E165",
                        "'partition' without `column` reads ranges of the table's primary key, but this step reads a "
                        "query",
                        entry.key_span,
                        "give `partition.column`: an integer column the query returns",
                    )
                    continue
                self.diagnostics.append(
                    warning(
                        "OSR-W165",
                        "'partition' only takes effect with `osirisc run --target ray`; "
                        "other targets read the source in one query",
                        entry.key_span or self.where,
                        "keep it for Ray runs (docs/distributed.md)",
                    )
                )
            elif entry.key in reasons:
                self.diagnostics.append(
                    warning(
                        "OSR-W161",
                        f"'{entry.key}' has no effect in osirisc: {reasons[entry.key]}",
                        entry.key_span or self.where,
                        "remove it",
                    )
                )

    def with_defaults(self, config: nodes.Map) -> nodes.Map:
        added = []
        keys = set(config.keys())
        for key, prop in self.spec.properties.items():
            if key in keys or not isinstance(prop, dict) or prop.get("default") is None:
                continue
            if self.connection is not None and key in self.spec.connection_fields:
                continue
            added.append(nodes.Entry(key, from_data(prop["default"])))
        return attrs.evolve(config, entries=config.entries + tuple(added))


def _matches(value: Any, condition: Any) -> bool:
    if condition is None:
        return value is None
    if isinstance(condition, list):
        return value in condition
    return bool(value == condition)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def validate_config(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    diagnostics: list[Diagnostic] = []
    steps = []
    memo = _SchemaMemo()
    broken: set[str] = set()
    for step in pipeline.steps:
        spec = None if step.id in ctx.skip else ctx.registry.get(step.component)
        if spec is None:  # an unknown component (bind_components reported it) or a step found broken before
            steps.append(step)
            continue
        check = _StepCheck(step, spec)
        check.check_connection()
        check.check_overrides()
        check.check_schema(memo)
        config = check.rename_aliases()
        if not any(d.is_error for d in check.diagnostics):
            check.check_constraints(config)
            check.check_no_effect(config)
        diagnostics += check.diagnostics
        if any(d.is_error for d in check.diagnostics):
            broken.add(step.id)
        steps.append(attrs.evolve(step, config=check.with_defaults(config)))
    return PassResult(attrs.evolve(pipeline, steps=tuple(steps)), tuple(diagnostics), frozenset(broken))
