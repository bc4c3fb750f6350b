"""Component facts live in each spec.yaml (``x-compiler``; the role is the modes): the passes, the CLI and the runtime
read them there, so a new component touches only its own folder, and no module elsewhere keys a table by a
component's name."""

from __future__ import annotations

import ast
from pathlib import Path

import attrs
import pytest

from osiris.backends.local.plan import build_plan
from osiris.components.registry import Registry, SpecError, builtin_spec_files, default_registry, parse_spec
from osiris.frontend import load
from osiris.ir.diagnostics import has_errors
from osiris.passes.base import PassContext
from osiris.passes.manager import run_passes

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "osiris"

# A writer of a made-up family: everything the compiler needs is in its own spec (the driver is a built-in's).
NEW_WRITER = """\
name: acme.loader
version: 1.0.0
modes: [write]
configSchema:
  type: object
  properties:
    connection: {type: string, pattern: "^@[A-Za-z0-9_-]+\\\\.[A-Za-z0-9_-]+$"}
    host: {type: string}
    database: {type: string}
    user: {type: string}
    schema: {type: string, default: staging}
    table: {type: string}
    write_mode: {enum: [append, replace, upsert, truncate], default: append}
    primary_key: {type: string}
    create_if_missing: {type: boolean, default: true}
    schema_evolution: {enum: [fail, add_columns], default: fail}
    upsert_on: {type: string}
  required: [table]
  additionalProperties: false
x-connection-fields:
  host: allowed
  database: forbidden
  user: forbidden
x-aliases:
  upsert_on: primary_key
x-compiler:
  dialect: postgres
  connection-families: [postgres]
x-runtime:
  driver: osiris.components.postgres_writer.driver:Driver
  requirements:
    packages: [pyarrow]
"""

PIPELINE = """\
oml_version: "0.1.0"
name: facts
steps:
  - id: src
    component: filesystem.csv_extractor
    mode: read
    config: {path: in.csv}
  - id: out
    component: acme.loader
    mode: write
    needs: [src]
    config: {connection: "@postgres.wh", table: t, write_mode: upsert, upsert_on: id}
"""


def _registry(tmp_path: Path) -> Registry:
    folder = tmp_path / "acme_loader"
    folder.mkdir()
    (folder / "spec.yaml").write_text(NEW_WRITER, encoding="utf-8")
    return Registry.from_files([*builtin_spec_files(), ("acme_loader/spec.yaml", folder / "spec.yaml")])


def _compile(tmp_path: Path, text: str) -> tuple[object, PassContext, tuple]:  # type: ignore[type-arg]
    (tmp_path / "in.csv").write_text("id,name\n1,a\n2,b\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    parsed = load(str(tmp_path / "p.yaml"))
    assert parsed.pipeline is not None and parsed.source is not None
    ctx = PassContext(registry=_registry(tmp_path), sources={parsed.source.name: parsed.source.text})
    result = run_passes(parsed.pipeline, ctx)
    return result.pipeline, attrs.evolve(ctx, products=result.product), result.diagnostics


def test_a_new_component_needs_only_its_own_folder(tmp_path: Path) -> None:
    pipeline, ctx, diags = _compile(tmp_path, PIPELINE)
    assert not has_errors(diags), diags
    assert [d.code for d in diags] == ["OSR-W160"]  # its own alias, renamed by validate_config
    plan = build_plan(pipeline, ctx)  # type: ignore[arg-type]
    out = plan["steps"][1]
    assert out["dialect"] == "postgres" and plan["steps"][0]["dialect"] == "csv"
    write = out["write"]
    assert write["dialect"] == "postgres" and write["mode"] == "upsert" and write["primary_key"] == ["id"]
    assert write["target"]["qualified"] == '"staging"."t"'  # its spec's default schema
    assert any("ON CONFLICT" in s for s in write["statements"]["finalize"])


def test_connection_families_come_from_the_spec(tmp_path: Path) -> None:
    _, _, diags = _compile(tmp_path, PIPELINE.replace("@postgres.wh", "@mysql.wh"))
    [diag] = [d for d in diags if d.is_error]
    assert diag.code == "OSR-E156" and '"@acme.<alias>" or "@postgres.<alias>"' in diag.notes[0]
    registry = default_registry()
    assert registry.dialect_of_family("postgresql") == "postgres"  # Osiris's family, accepted by postgres.*
    assert registry.dialect_of_family("supabase") == "postgres"
    assert registry.dialect_of_family("duckdb") == "duckdb"
    assert registry.dialect_of_family("graphql") is None
    assert registry.dialect_of_family("nope") is None


def test_builtin_facts() -> None:
    specs = {s.name: s for s in default_registry()}
    assert specs["duckdb.processor"].schema_kind == "sql"
    assert specs["filesystem.csv_extractor"].schema_kind == "csv"
    sources = {n for n, s in specs.items() if s.schema_kind == "connection"}
    assert sources == {"mysql.extractor", "postgres.extractor", "supabase.extractor", "duckdb.extractor"}
    assert specs["graphql.extractor"].dialect is None and specs["posthog.extractor"].schema_kind == "none"
    for name, spec in specs.items():
        assert "capabilities" not in spec.raw, name  # declared and never read: removed
        if "write" in spec.modes:
            assert spec.dialect is not None, name  # every built-in writer gets a write plan


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("x-compiler: {schema: connection}", "x-compiler"),  # described from a source: needs a database dialect
        ("x-compiler: {schema: connection, dialect: csv}", "x-compiler/dialect"),
        ("x-compiler: {dialect: oracle}", "x-compiler/dialect"),
        ("x-compiler: {role: writer}", "x-compiler"),
    ],
)
def test_bad_facts_are_spec_errors(block: str, field: str) -> None:
    text = NEW_WRITER.replace("x-compiler:\n  dialect: postgres\n  connection-families: [postgres]\n", block + "\n")
    with pytest.raises(SpecError, match=f"field '{field}'"):
        parse_spec(text, "acme/spec.yaml")


def test_no_component_name_tables_outside_component_folders() -> None:
    """The measure of "each fact in one place": no string literal equal to a component's name in the compiler, CLI,
    runtime or dialects. (osiris/testing's generators name the components they generate; cli/init.py's skeleton is
    pipeline text.)"""
    names = set(default_registry().names())
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ("components", "testing"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                offenders.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert offenders == []
