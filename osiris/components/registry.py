"""The component registry: specs are data (``spec.yaml``), loaded lazily, validated against a meta-schema.

Built-in components live in ``osiris/components/<folder>/spec.yaml``; other packages add components through the
``osiris.components`` entry-point group (each entry point names a folder holding a ``spec.yaml``). Two components
with the same name are an error. Drivers are imported only when a run needs them.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Iterator
from importlib import metadata, resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import yaml

MODE_ALIASES = {"read": "extract", "extract": "extract", "write": "write", "transform": "transform"}


class SpecError(Exception):
    """A component spec that cannot be used: the message names the file and the field."""


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
    origin: str = ""  # where it came from, relative: "osiris/components/mysql_extractor/spec.yaml" or "entry-point:NAME"

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    def supports(self, mode: str) -> bool:
        return MODE_ALIASES.get(mode, mode) in self.modes


@functools.cache
def meta_schema() -> dict[str, Any]:
    text = resources.files("osiris.components").joinpath("meta-schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def parse_spec(text: str, origin: str) -> ComponentSpec:
    """Parse and validate one spec document; a broken spec raises SpecError naming file and field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{origin}: not valid YAML: {exc}") from None
    validator = jsonschema.Draft202012Validator(meta_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(document)"
        raise SpecError(f"{origin}: field '{where}': {first.message}")
    try:
        jsonschema.Draft202012Validator.check_schema(raw["configSchema"])
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise SpecError(f"{origin}: field 'configSchema/{where}': {exc.message}") from None
    runtime = raw.get("x-runtime", {})
    requirements = runtime.get("requirements", {})
    secrets = tuple(raw.get("secrets", ())) + tuple(p for p in raw.get("x-secret", ()) if p not in raw.get("secrets", ()))
    return ComponentSpec(
        name=raw["name"],
        version=str(raw["version"]),
        modes=tuple(raw["modes"]),
        config_schema=raw["configSchema"],
        secrets=secrets,
        connection_fields=dict(raw.get("x-connection-fields", {})),
        driver=runtime.get("driver", ""),
        packages=tuple(requirements.get("packages", ())),
        imports=tuple(requirements.get("imports", ())),
        constraints=tuple(raw.get("constraints", ())),
        examples=tuple(raw.get("examples", ())),
        raw=raw,
        origin=origin,
    )


def _builtin_spec_files() -> Iterator[tuple[str, Traversable]]:
    root = resources.files("osiris.components")
    for folder in sorted(root.iterdir(), key=lambda r: r.name):
        spec = folder.joinpath("spec.yaml")
        if folder.is_dir() and spec.is_file():
            yield f"osiris/components/{folder.name}/spec.yaml", spec


def _entry_point_spec_files() -> Iterator[tuple[str, Path]]:
    for ep in sorted(metadata.entry_points(group="osiris.components"), key=lambda e: e.name):
        target = ep.load()
        folder = Path(target if isinstance(target, str | Path) else Path(importlib.import_module(ep.module).__file__ or "").parent)
        yield f"entry-point:{ep.name}", folder / "spec.yaml"


class Registry:
    """Name -> spec. Specs are parsed on first access; ``load_driver`` imports a driver on first use."""

    def __init__(self, sources: dict[str, tuple[str, Any]]):
        # sources: component name -> (origin, loader of the spec text)
        self._sources = sources
        self._specs: dict[str, ComponentSpec] = {}

    @classmethod
    def from_files(cls, files: list[tuple[str, Any]]) -> Registry:
        """Build from (origin, path-like) pairs. Reads each file's ``name`` to index it; a duplicate is SpecError."""
        sources: dict[str, tuple[str, Any]] = {}
        for origin, path in files:
            text = path.read_text(encoding="utf-8")
            spec = parse_spec(text, origin)
            if spec.name in sources:
                raise SpecError(f"{origin}: component '{spec.name}' is already defined by {sources[spec.name][0]}")
            sources[spec.name] = (origin, path)
        return cls(sources)

    def names(self) -> list[str]:
        return sorted(self._sources)

    def __contains__(self, name: object) -> bool:
        return name in self._sources

    def get(self, name: str) -> ComponentSpec | None:
        if name not in self._sources:
            return None
        if name not in self._specs:
            origin, path = self._sources[name]
            self._specs[name] = parse_spec(path.read_text(encoding="utf-8"), origin)
        return self._specs[name]

    def load_driver(self, name: str) -> Any:
        spec = self.get(name)
        if spec is None or not spec.driver:
            raise SpecError(f"component '{name}' has no driver")
        module, _, attr = spec.driver.partition(":")
        return getattr(importlib.import_module(module), attr)


@functools.cache
def default_registry() -> Registry:
    """Built-ins plus installed entry points."""
    files: list[tuple[str, Any]] = list(_builtin_spec_files())
    files += list(_entry_point_spec_files())
    return Registry.from_files(files)
