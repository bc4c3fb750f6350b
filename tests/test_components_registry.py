"""The component registry: built-in specs, broken specs, duplicates, entry points, lazy drivers."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest

import osiris.components.registry as mod
from osiris.components.registry import (
    Registry,
    SpecError,
    builtin_spec_files,
    default_registry,
    entry_point_spec_files,
    parse_spec,
)

BUILTINS = {
    "filesystem.csv_extractor",
    "filesystem.csv_writer",
    "mysql.extractor",
    "mysql.writer",
    "duckdb.processor",
    "duckdb.extractor",
    "duckdb.writer",
    "postgres.extractor",
    "postgres.writer",
    "supabase.extractor",
    "supabase.writer",
    "graphql.extractor",
    "posthog.extractor",
}

MINIMAL = """\
name: {name}
version: 1.0.0
modes: [extract]
configSchema:
  type: object
  properties:
    path: {{type: string}}
  required: [path]
  additionalProperties: false
x-runtime:
  driver: {driver}
"""


def write_spec(folder: Path, name: str, driver: str = "fake_mod:Driver") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(MINIMAL.format(name=name, driver=driver), encoding="utf-8")
    return path


def test_builtins_are_all_there_and_named_after_their_folder() -> None:
    registry = default_registry()
    assert set(registry.names()) == BUILTINS
    for origin, _ in builtin_spec_files():
        folder = origin.split("/")[2]
        spec = next(s for s in registry if s.origin == origin)
        assert spec.name.replace(".", "_") == folder
        assert spec.driver == f"osiris.components.{folder}.driver:Driver"
        assert spec.packages and spec.imports


def test_writers_share_the_write_fields() -> None:
    for spec in default_registry():
        if "write" not in spec.modes or spec.family == "filesystem":
            continue
        props = spec.properties
        assert props["write_mode"]["enum"] == ["append", "replace", "upsert", "truncate"], spec.name
        assert props["schema_evolution"]["default"] == "fail", spec.name
        for field in ("primary_key", "create_if_missing", "schema", "table"):
            assert field in props, (spec.name, field)
        rule = next(c for c in spec.constraints if c.get("when", {}).get("write_mode"))
        assert rule["when"]["write_mode"] == ["replace", "upsert"] and rule["require"] == ["primary_key"]


def test_secret_fields_are_marked() -> None:
    reg = default_registry()
    assert reg.get("mysql.extractor").secret_fields == {"password"}  # type: ignore[union-attr]
    assert reg.get("postgres.writer").secret_fields == {"password", "pg_dsn"}  # type: ignore[union-attr]
    assert reg.get("supabase.writer").secret_fields == {"password", "pg_dsn", "key", "service_role_key"}  # type: ignore[union-attr]


def test_every_example_is_valid_against_its_schema_with_connection_fields_provided() -> None:
    for spec in default_registry():
        schema = dict(spec.config_schema)
        for example in spec.examples:
            config = example["config"]
            if "connection" in config:
                schema["required"] = [r for r in spec.required if r not in spec.connection_fields]
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(config))
            assert not errors, (spec.name, [e.message for e in errors])


def test_osiris_spec_forms_are_accepted_and_normalized() -> None:
    text = (
        MINIMAL.format(name="legacy.extractor", driver="osiris.drivers.legacy.LegacyDriver")
        + """\
x-connection-fields:
  - name: path
    override: forbidden
constraints:
  required:
    - when: {path: null}
      must: {path: {minLength: 1}}
      error: path is needed
secrets: [/path]
x-secret: [/path, /resolved_connection/password]
"""
    )
    spec = parse_spec(text, "legacy/spec.yaml")
    assert spec.connection_fields == {"path": "forbidden"}
    assert spec.constraints == ({"when": {"path": None}, "require": ["path"], "message": "path is needed"},)
    assert spec.secrets == ("/path",)
    assert spec.connection_secrets == ("password",)  # a secret connection field: carried in the plan, masked


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.replace("version: 1.0.0", "version: one"), "version"),
        (lambda t: t.replace("modes: [extract]", "modes: [fly]"), "modes"),
        (lambda t: t.replace("{type: string}", "{type: strang}"), "configSchema/properties/path/type"),
        (lambda t: t + "x-connection-fields: {path: maybe}\n", "x-connection-fields/path"),
        (lambda t: t + "secrets: [/nope]\n", "secrets"),
        (lambda t: t + "colour: blue\n", "(document)"),
    ],
)
def test_a_broken_spec_names_file_and_field(mutate, field) -> None:  # type: ignore[no-untyped-def]
    text = mutate(MINIMAL.format(name="x.extractor", driver="m:D"))
    with pytest.raises(SpecError) as info:
        parse_spec(text, "comp/spec.yaml")
    assert str(info.value).startswith(f"comp/spec.yaml: field '{field}'"), str(info.value)


def test_not_yaml_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"^bad/spec.yaml: not valid YAML"):
        parse_spec("name: [", "bad/spec.yaml")


def test_duplicate_names_are_an_error(tmp_path: Path) -> None:
    a = write_spec(tmp_path / "a", "dup.extractor")
    b = write_spec(tmp_path / "b", "dup.extractor")
    with pytest.raises(SpecError, match=r"^b/spec.yaml: component 'dup.extractor' is already defined by a/spec.yaml"):
        Registry.from_files([("a/spec.yaml", a), ("b/spec.yaml", b)])


def test_each_spec_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = mod.parse_spec
    monkeypatch.setattr(mod, "parse_spec", lambda text, origin, **kw: calls.append(origin) or real(text, origin, **kw))
    path = write_spec(tmp_path / "a", "once.extractor")
    registry = Registry.from_files([("a/spec.yaml", path)])
    for _ in range(3):
        assert registry.get("once.extractor") is registry.get("once.extractor")
    assert calls == ["a/spec.yaml"]


def make_distribution(root: Path, dist: str, entries: dict[str, str]) -> None:
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[osiris.components]\n{lines}", encoding="utf-8")


def test_entry_point_components_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "acme_osiris_comp"
    write_spec(pkg, "acme.extractor", driver="acme_osiris_comp.driver:Driver")
    (pkg / "__init__.py").write_text("from pathlib import Path\nSPEC_DIR = Path(__file__).parent\n", encoding="utf-8")
    (pkg / "driver.py").write_text("class Driver:\n    LOADED = True\n", encoding="utf-8")
    make_distribution(tmp_path, "acme_osiris_comp", {"acme": "acme_osiris_comp:SPEC_DIR"})
    monkeypatch.syspath_prepend(str(tmp_path))
    files = list(entry_point_spec_files())
    assert [origin for origin, _ in files] == ["entry-point:acme (acme_osiris_comp:SPEC_DIR)"]
    registry = Registry.from_files([*builtin_spec_files(), *files])
    assert "acme.extractor" in registry and set(registry.names()) >= BUILTINS
    # The driver is imported only when asked for.
    assert "acme_osiris_comp.driver" not in sys.modules
    driver = registry.load_driver("acme.extractor")
    assert driver.LOADED is True and "acme_osiris_comp.driver" in sys.modules
    monkeypatch.delitem(sys.modules, "acme_osiris_comp.driver")
    monkeypatch.delitem(sys.modules, "acme_osiris_comp")


def test_entry_point_clashing_with_a_builtin_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path / "clash_comp", "mysql.extractor")
    make_distribution(tmp_path, "clash_comp", {"clash": "clash_comp"})
    (tmp_path / "clash_comp" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SpecError, match=r"component 'mysql.extractor' is already defined by osiris/components/"):
        Registry.from_files([*builtin_spec_files(), *entry_point_spec_files()])
    sys.modules.pop("clash_comp", None)


def test_a_missing_driver_is_a_spec_error_with_a_hint(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "a", "ghost.extractor", driver="no_such_module_xyz:Driver")
    registry = Registry.from_files([("a/spec.yaml", path)])
    with pytest.raises(SpecError, match=r"driver 'no_such_module_xyz:Driver' cannot be loaded"):
        registry.load_driver("ghost.extractor")


_SCHEMA_KEYWORDS = {  # JSON Schema 2020-12 keywords and annotations, and the osirisc spec extensions
    "$ref", "$defs", "$comment", "type", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items", "prefixItems", "contains",
    "minItems", "maxItems", "uniqueItems", "properties", "additionalProperties", "patternProperties",
    "propertyNames", "required", "minProperties", "maxProperties", "dependentRequired", "oneOf", "anyOf", "allOf",
    "not", "if", "then", "else", "title", "description", "default", "examples", "deprecated", "readOnly",
    "writeOnly",
}  # fmt: skip


def _schema_keys(schema: object, where: str) -> list[tuple[str, str]]:
    """(location, key) of every key in a schema position of ``schema``."""
    if not isinstance(schema, dict):
        return []
    found = [(where, k) for k in schema]
    for key in ("properties", "$defs", "patternProperties"):
        for name, sub in (schema.get(key) or {}).items():
            found += _schema_keys(sub, f"{where}.{key}.{name}")
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"):
        found += _schema_keys(schema.get(key), f"{where}.{key}")
    for key in ("oneOf", "anyOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key) or ()):
            found += _schema_keys(sub, f"{where}.{key}[{i}]")
    return found


def test_built_in_config_schemas_use_only_known_keywords() -> None:
    """A YAML slip (an unquoted ', ' inside a flow mapping's description) turns text into a bogus keyword that
    JSON Schema silently ignores; this catches it."""
    unknown = [
        f"{where}: {key!r}"
        for spec in default_registry()
        for where, key in _schema_keys(spec.config_schema, spec.name)
        if key not in _SCHEMA_KEYWORDS and not key.startswith("x-")
    ]
    assert not unknown, unknown


def test_the_default_registry_parses_a_builtin_only_when_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check parses the specs of the components its pipeline names; listing them all parses the rest, once."""
    from osiris.compile import compile_file

    calls: list[str] = []
    real = mod.parse_spec
    monkeypatch.setattr(mod, "parse_spec", lambda text, origin, **kw: calls.append(origin) or real(text, origin, **kw))
    default_registry.cache_clear()
    try:
        result = compile_file(
            str(Path(__file__).parents[1] / "examples/quickstart/pipeline.yaml"), until="validate_config"
        )
        used = {s.component for s in result.pipeline.steps}
        assert used == {"filesystem.csv_extractor", "duckdb.processor", "duckdb.writer", "filesystem.csv_writer"}
        assert sorted(calls) == sorted(f"osiris/components/{c.replace('.', '_')}/spec.yaml" for c in used)
        assert set(default_registry().names()) == BUILTINS
        assert sorted(calls) == sorted(f"osiris/components/{c.replace('.', '_')}/spec.yaml" for c in BUILTINS)
    finally:
        default_registry.cache_clear()


def test_a_deferred_spec_must_be_named_by_its_folder(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "acme_extractor", "acme.loader")
    registry = Registry()
    registry.defer("acme_extractor", "acme_extractor/spec.yaml", path)
    assert registry.get("acme.other") is None  # another folder's name: nothing is parsed
    with pytest.raises(SpecError, match=r"^acme_extractor/spec.yaml: field 'name': 'acme.loader' does not match"):
        registry.get("acme.extractor")


def test_the_default_registry_refuses_an_entry_point_reusing_a_builtin_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built-ins are parsed lazily, but an entry point's name is still compared with them when the registry loads."""
    write_spec(tmp_path / "clash2_comp", "duckdb.writer")
    make_distribution(tmp_path, "clash2_comp", {"clash": "clash2_comp"})
    (tmp_path / "clash2_comp" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        with pytest.raises(SpecError, match=r"'duckdb.writer' is already defined by osiris/components/duckdb_writer/"):
            default_registry()
    finally:
        default_registry.cache_clear()
        sys.modules.pop("clash2_comp", None)


def test_threads_asking_for_deferred_specs_at_once_get_one_spec_each() -> None:
    """The shared registry parses a file in one thread; the others wait and get the same spec."""
    import threading

    registry = Registry()
    for origin, path in builtin_spec_files():
        registry.defer(origin.split("/")[2], origin, path, check=False)
    start = threading.Barrier(8)
    got: list[list[object]] = []

    def ask() -> None:
        start.wait()
        got.append([registry.get(name) for name in sorted(BUILTINS)] + list(registry))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(g is not None for g in got[0])
    assert all([id(s) for s in g] == [id(s) for s in got[0]] for g in got)
