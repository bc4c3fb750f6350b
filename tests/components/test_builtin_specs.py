"""The built-in specs are checked here, not at every start: each one against components/meta-schema.json and its
configSchema against JSON Schema 2020-12 (the checks a third-party spec gets at load). The registry parses the
built-ins without jsonschema, and a start does not import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import osiris.components.registry as mod
from osiris.components.registry import Registry, SpecError, builtin_spec_files, default_registry, parse_spec

BUILTIN = sorted(builtin_spec_files())
META = jsonschema.Draft202012Validator


@pytest.mark.parametrize(("origin", "path"), BUILTIN, ids=[o.split("/")[2] for o, _ in BUILTIN])
def test_builtin_spec_satisfies_the_meta_schema(origin: str, path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in META(mod.meta_schema()).iter_errors(raw)]
    assert errors == [], origin
    META.check_schema(raw["configSchema"])  # raises SchemaError naming the bad keyword
    mod._check(raw, origin)  # the registry's own check (what a third-party spec gets) agrees


def test_the_meta_schema_itself_is_valid_json_schema() -> None:
    META.check_schema(mod.meta_schema())


def test_the_default_registry_holds_every_builtin_unchecked_by_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    monkeypatch.setattr(mod, "_check", lambda raw, origin: checked.append(origin))
    default_registry.cache_clear()
    try:
        registry = default_registry()
    finally:
        default_registry.cache_clear()
    assert checked == []  # no entry point installed here: nothing is checked at load
    assert [s.origin for s in registry] == sorted(s.origin for s in registry)
    assert {s.origin for s in registry} == {o for o, _ in BUILTIN}


def test_a_start_does_not_import_jsonschema(tmp_path: Path) -> None:
    """`osirisc check` of a plainly valid pipeline: no spec and no config needs jsonschema."""
    pipeline = tmp_path / "p.yaml"
    steps = [
        {"id": "r", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "in.csv"}},
        {"id": "w", "component": "filesystem.csv_writer", "mode": "write", "config": {"path": "o.csv"}, "needs": ["r"]},
    ]
    pipeline.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "p", "steps": steps}), encoding="utf-8")
    code = (
        "import sys; from osiris.cli import main; rc = main(['check', sys.argv[1]]); "
        "print(rc, 'jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(pipeline)], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["0", "False"], out.stdout + out.stderr


BROKEN = """\
name: broken.extractor
version: 1.0.0
modes: [extract]
configSchema:
  type: object
  properties:
    path: {type: 5}
x-runtime:
  driver: m:D
"""


def test_a_third_party_spec_is_still_checked_at_load(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(SpecError, match=r"^entry-point:b \(b\): field 'configSchema/properties/path/type'"):
        Registry.from_files([("entry-point:b (b)", spec)])
    assert parse_spec(BROKEN, "x", check=False).name == "broken.extractor"  # what a built-in gets: the test above


def test_a_yaml_error_reads_as_pythons_loader() -> None:
    text = "name: x.extractor\nmodes: [extract\nversion: 1.0.0\n"
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(SpecError) as info:
        parse_spec(text, "bad/spec.yaml")
    assert str(info.value) == f"bad/spec.yaml: not valid YAML: {expected.value}"
    assert "^" in str(info.value)  # the Python loader's snippet, which libyaml's marks lack


def test_builtins_parse_as_pyyaml_reads_them() -> None:
    for origin, path in BUILTIN:
        spec = parse_spec(path.read_text(encoding="utf-8"), origin, check=False)
        assert spec.raw == yaml.safe_load(path.read_text(encoding="utf-8"))  # libyaml = PyYAML here


def test_the_default_registry_checks_an_installed_entry_point_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party spec reached through the ``osiris.components`` entry-point group gets the jsonschema checks."""
    pkg = tmp_path / "broken_osiris_comp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "spec.yaml").write_text(BROKEN, encoding="utf-8")
    info = tmp_path / "broken_osiris_comp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken_osiris_comp\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[osiris.components]\nb = broken_osiris_comp\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    default_registry.cache_clear()
    try:
        with pytest.raises(SpecError, match=r"^entry-point:b \(broken_osiris_comp\): field 'configSchema/properties"):
            default_registry()
    finally:
        default_registry.cache_clear()
        sys.modules.pop("broken_osiris_comp", None)
