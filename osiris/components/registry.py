"""The component registry: specs are data (``spec.yaml``), validated against ``meta-schema.json``.

Built-in components live in ``osiris/components/<folder>/spec.yaml``; other packages add components through the
``osiris.components`` entry-point group (each entry point names a folder holding a ``spec.yaml``, or a module whose
folder holds one). Every spec is parsed once: entry points when the registry is built, built-ins when first used
(their folder names them); two components with the same name are an error. Drivers are imported only when a run
asks for them (``load_driver``).

The jsonschema checks (the spec against ``meta-schema.json``, its configSchema against JSON Schema 2020-12) run at
load for third-party specs only: the built-in specs ship with osirisc and are checked by the tests
(tests/components/test_builtin_specs.py), so start-up neither imports jsonschema nor walks every spec with it.

Spec fields are normalized here so passes read one form: ``connection_fields`` is ``field -> allowed | forbidden |
warning`` (Osiris's list form ``[{name, override}]`` is accepted) and ``constraints`` is a tuple of
``{when, require | require_one_of, message}`` (Osiris's ``{required: [{when, must, error}]}`` is accepted:
``must``'s keys become ``require``).

What the compiler, CLI and runtime know about a component beyond its config is declared here too, once:
``x-compiler`` gives its ``dialect``, how its ``schema`` is inferred, the extra ``connection-families`` it
accepts and the server-formatted ``export`` it makes or takes (passes/plan_exports.py); its role (extractor,
processor, writer) is its ``modes``. No other module keys a table by component name.
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import attrs
import yaml

MODE_ALIASES = {"read": "extract", "extract": "extract", "write": "write", "transform": "transform"}
ENTRY_POINT_GROUP = "osiris.components"


class SpecError(Exception):
    """A component spec that cannot be used: the message names the file and the field."""


class _Readable(Protocol):
    def read_text(self, encoding: str = ...) -> str: ...


@attrs.frozen
class ComponentSpec:
    """One component's spec, as loaded (``raw`` keeps the whole document for fingerprints and docs)."""

    name: str
    version: str
    modes: tuple[str, ...]
    config_schema: dict[str, Any] = attrs.field(eq=False)
    secrets: tuple[str, ...]
    connection_fields: dict[str, str] = attrs.field(eq=False)
    driver: str
    packages: tuple[str, ...]
    imports: tuple[str, ...]
    constraints: tuple[dict[str, Any], ...] = attrs.field(eq=False)
    examples: tuple[dict[str, Any], ...] = attrs.field(eq=False)
    raw: dict[str, Any] = attrs.field(eq=False, repr=False)
    origin: str = ""  # relative: "osiris/components/mysql_extractor/spec.yaml" or "entry-point:NAME (VALUE)"
    connection_secrets: tuple[str, ...] = ()  # Osiris's ``/resolved_connection/<field>`` pointers: connection fields
    dialect: str | None = None  # x-compiler.dialect: postgres, mysql, duckdb, csv (None: an API)
    schema_kind: str = "none"  # x-compiler.schema: sql, csv, connection, none (how infer_schemas finds columns)
    extra_families: tuple[str, ...] = ()  # x-compiler.connection-families: accepted besides its own
    # x-compiler.export: an extractor's "<writer dialect>" it can format itself (mysql: "csv"), or a writer's "takes"
    export: str | None = None

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.config_schema.get("properties", {})
        return props

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.config_schema.get("required", ()))

    @property
    def secret_fields(self) -> frozenset[str]:
        """Top-level config keys that hold secrets (from the JSON pointers ``/password`` ...)."""
        return frozenset(p.split("/")[1].replace("~1", "/").replace("~0", "~") for p in self.secrets)

    @property
    def families(self) -> tuple[str, ...]:
        """The connection families a step of this component may reference: its own first."""
        return (self.family, *self.extra_families)

    def supports(self, mode: str) -> bool:
        return MODE_ALIASES.get(mode, mode) in self.modes

    @property
    def pipeline_modes(self) -> tuple[str, ...]:
        """The modes a pipeline step may use (``discover`` is an Osiris mode osirisc does not run)."""
        return tuple(m for m in self.modes if m in ("extract", "write", "transform"))


@functools.cache
def meta_schema_text() -> str:
    return resources.files("osiris.components").joinpath("meta-schema.json").read_text(encoding="utf-8")


@functools.cache
def meta_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(meta_schema_text())
    return data


@functools.cache
def _validators() -> tuple[Any, Any]:
    """(spec validator, JSON Schema 2020-12 meta-validator): built once, reused for every spec."""
    import jsonschema  # only third-party specs are checked at load (built-ins: by the tests)

    draft = jsonschema.Draft202012Validator
    return draft(meta_schema()), draft(draft.META_SCHEMA, format_checker=draft.FORMAT_CHECKER)


def _load_yaml(text: str) -> Any:
    """The document, parsed by libyaml when available; a YAML error is always PyYAML's own (same message)."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)  # CSafeLoader: the safe loader in C
        except yaml.YAMLError:
            pass  # re-parse below so the message (marks, snippet) is the Python loader's
    return yaml.safe_load(text)


def _check(raw: dict[str, Any], origin: str) -> None:
    """The jsonschema checks: the spec against meta-schema.json, its configSchema against JSON Schema 2020-12."""
    import jsonschema

    spec_validator, meta_validator = _validators()
    errors = sorted(spec_validator.iter_errors(raw), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        first = jsonschema.exceptions.best_match(errors) or errors[0]
        raise SpecError(f"{origin}: field '{_where(first.absolute_path)}': {first.message}")
    # Draft202012Validator.check_schema(raw["configSchema"]) with a reused validator: its first error
    for error in meta_validator.iter_errors(raw["configSchema"]):
        exc = jsonschema.SchemaError.create_from(error)
        raise SpecError(f"{origin}: field 'configSchema/{_where(exc.absolute_path)}': {exc.message}")


def _where(path: Iterable[Any]) -> str:
    return "/".join(str(p) for p in path) or "(document)"


def _connection_fields(value: Any) -> dict[str, str]:
    if isinstance(value, list):
        return {item["name"]: item["override"] for item in value}
    return {k: (v["override"] if isinstance(v, dict) else v) for k, v in (value or {}).items()}


def _constraints(value: Any) -> tuple[dict[str, Any], ...]:
    if isinstance(value, dict):  # the Osiris form
        return tuple(
            {"when": dict(c["when"]), "require": sorted(c["must"]), "message": c["error"]}
            for c in value.get("required", ())
        )
    return tuple(dict(c) for c in value or ())


def parse_spec(text: str, origin: str, *, check: bool = True) -> ComponentSpec:
    """Parse and validate one spec document; a broken spec raises SpecError naming file and field.

    ``check=False`` skips the jsonschema checks (``_check``: the built-in specs, checked by the tests); the rest
    (the pointers and field names jsonschema cannot check) always runs."""
    try:
        raw = _load_yaml(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{origin}: field '(document)': a spec must be a mapping")
    if check:
        _check(raw, origin)
    properties = raw["configSchema"].get("properties", {})
    secrets = tuple(dict.fromkeys([*raw.get("secrets", ()), *raw.get("x-secret", ())]))
    for pointer in secrets:
        top = pointer.split("/")[1]
        if top not in properties and top != "resolved_connection":  # Osiris points into its resolved connection
            raise SpecError(f"{origin}: field 'secrets': {pointer} names no property of configSchema")
    connection_secrets = tuple(
        p.split("/")[2] for p in secrets if p.startswith("/resolved_connection/") and p.count("/") >= 2
    )
    secrets = tuple(p for p in secrets if not p.startswith("/resolved_connection/"))
    constraints = _constraints(raw.get("constraints"))
    for i, c in enumerate(constraints):
        for field in [
            *c.get("require", ()),
            *c.get("require_one_of", ()),
            *c.get("when", {}),
            *c.get("given", ()),
            *c.get("forbid", ()),
        ]:
            if field not in properties:
                raise SpecError(f"{origin}: field 'constraints/{i}': '{field}' names no property of configSchema")
    for kind in ("x-no-effect", "x-refused", "x-refused-values"):
        for field in raw.get(kind, {}):
            if field not in properties:
                raise SpecError(f"{origin}: field '{kind}': '{field}' names no property of configSchema")
    facts = raw.get("x-compiler", {})
    runtime = raw.get("x-runtime", {})
    requirements = runtime.get("requirements", {})
    spec = ComponentSpec(
        name=raw["name"],
        version=str(raw["version"]),
        modes=tuple(raw["modes"]),
        config_schema=raw["configSchema"],
        secrets=secrets,
        connection_fields=_connection_fields(raw.get("x-connection-fields")),
        driver=runtime.get("driver", ""),
        packages=tuple(requirements.get("packages", ())),
        imports=tuple(requirements.get("imports", ())),
        constraints=constraints,
        examples=tuple(raw.get("examples", ())),
        raw=raw,
        origin=origin,
        connection_secrets=connection_secrets,
        dialect=facts.get("dialect"),
        schema_kind=facts.get("schema", "none"),
        extra_families=tuple(facts.get("connection-families", ())),
        export=facts.get("export"),
    )
    return spec


def builtin_spec_files() -> Iterator[tuple[str, _Readable]]:
    """(origin, file) for every built-in ``osiris/components/<folder>/spec.yaml``, sorted by folder."""
    root = resources.files("osiris.components")
    for folder in sorted(root.iterdir(), key=lambda r: r.name):
        spec = folder.joinpath("spec.yaml")
        if folder.is_dir() and spec.is_file():
            yield f"osiris/components/{folder.name}/spec.yaml", spec


def entry_point_spec_files(group: str = ENTRY_POINT_GROUP) -> Iterator[tuple[str, _Readable]]:
    """(origin, file) for every entry point of the group: its target is a folder path, or a module (its folder)."""
    from importlib import metadata  # ~15 ms per start (its imports and one scan of the installed distributions)

    for ep in sorted(metadata.entry_points(group=group), key=lambda e: (e.name, e.value)):
        origin = f"entry-point:{ep.name} ({ep.value})"
        try:
            target = ep.load()
        except Exception as exc:
            raise SpecError(f"{origin}: cannot load: {type(exc).__name__}: {exc}") from None
        if isinstance(target, str | Path):
            folder = Path(target)
        elif getattr(target, "__file__", None):
            folder = Path(target.__file__).parent
        else:
            raise SpecError(f"{origin}: must name a folder (str or Path) or a module, not {type(target).__name__}")
        spec = folder / "spec.yaml"
        if not spec.is_file():
            raise SpecError(f"{origin}: no spec.yaml in {folder.name}/")
        yield origin, spec


def _read_spec(origin: str, path: _Readable, check: bool) -> ComponentSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{origin}: cannot read: {exc}") from None
    return parse_spec(text, origin, check=check)


class Registry:
    """Name -> spec, every spec parsed once. ``load_driver`` imports a driver on first use.

    Files added with ``defer`` are parsed when first asked for (``get``, or listing every spec): a check of a
    pipeline parses the built-in specs it uses, not all of them (~1 ms each). A deferred file must hold the spec
    named by its folder, ``<family>_<role>`` for ``<family>.<role>``; ``get`` raises SpecError when it does not."""

    def __init__(self, specs: Iterable[ComponentSpec] = ()):
        self._specs: dict[str, ComponentSpec] = {}
        self._deferred: dict[str, tuple[str, _Readable, bool]] = {}  # folder name -> (origin, file, check)
        self._parsing = threading.Lock()  # a registry is shared (default_registry): one thread parses a file
        self._drivers: dict[str, Any] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ComponentSpec) -> None:
        first = self.get(spec.name)
        if first is not None:
            raise SpecError(f"{spec.origin}: component '{spec.name}' is already defined by {first.origin}")
        self._specs[spec.name] = spec

    def defer(self, folder: str, origin: str, path: _Readable, *, check: bool = True) -> None:
        """Register the spec file of folder ``folder``, to be parsed on first use."""
        self._deferred[folder] = (origin, path, check)

    @classmethod
    def from_files(cls, files: Iterable[tuple[str, _Readable]], *, check: bool = True) -> Registry:
        """Build from (origin, path-like) pairs; each file is read and parsed once (``check``: see ``parse_spec``).
        A duplicate name is SpecError."""
        registry = cls()
        registry.extend(files, check=check)
        return registry

    def extend(self, files: Iterable[tuple[str, _Readable]], *, check: bool = True) -> None:
        for origin, path in files:
            self.add(_read_spec(origin, path, check))

    def _parse_deferred(self, folder: str) -> None:
        with self._parsing:
            if folder not in self._deferred:  # another thread parsed it meanwhile
                return
            origin, path, check = self._deferred[folder]
            spec = _read_spec(origin, path, check)
            if spec.name.replace(".", "_") != folder:
                raise SpecError(
                    f"{origin}: field 'name': '{spec.name}' does not match its folder {folder}/ (<family>_<role>)"
                )
            self._specs[spec.name] = spec
            del self._deferred[folder]

    def _parse_all(self) -> None:
        for folder in sorted(self._deferred):
            self._parse_deferred(folder)

    def names(self) -> list[str]:
        self._parse_all()
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[ComponentSpec]:
        return iter(self._specs[n] for n in self.names())

    def get(self, name: str) -> ComponentSpec | None:
        spec = self._specs.get(name)
        if spec is None:
            if name.replace(".", "_") in self._deferred:
                self._parse_deferred(name.replace(".", "_"))
            spec = self._specs.get(name)  # (a spec is added before its file leaves _deferred)
        return spec

    def dialect_of_family(self, family: str) -> str | None:
        """The dialect of a connection family: that of the components accepting it (None: an API's)."""
        return next((s.dialect for s in self if family in s.families and s.dialect), None)

    def load_driver(self, name: str) -> Any:
        """The driver class of a component, imported now (``module:Class`` or Osiris's ``module.Class``)."""
        if name in self._drivers:
            return self._drivers[name]
        spec = self.get(name)
        if spec is None or not spec.driver:
            raise SpecError(f"component '{name}' has no driver")
        module, sep, attr = spec.driver.partition(":")
        if not sep:
            module, _, attr = spec.driver.rpartition(".")
        try:
            driver = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            hint = f" (install: pip install {' '.join(spec.packages)})" if isinstance(exc, ImportError) else ""
            raise SpecError(f"{spec.origin}: driver '{spec.driver}' cannot be loaded: {exc}{hint}") from None
        self._drivers[name] = driver
        return driver


@functools.cache
def default_registry() -> Registry:
    """Built-ins (not re-checked by jsonschema: the tests do that) plus installed entry points (checked)."""
    registry = Registry()
    for origin, path in builtin_spec_files():
        registry.defer(origin.split("/")[2], origin, path, check=False)
    registry.extend(entry_point_spec_files())
    return registry
