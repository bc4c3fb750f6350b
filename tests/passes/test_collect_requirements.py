from __future__ import annotations

import ast
import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import pytest

from osiris.passes import collect_requirements as cr

from .helpers import ctx, pipeline, step

ROOT = Path(__file__).resolve().parents[2]


def test_lock_pins_the_versions_installed_here() -> None:
    lock = cr.load_lock()
    assert lock.pins
    for written, version in lock.pins.values():
        assert metadata.version(written) == version, written


def test_lock_is_current() -> None:
    spec = importlib.util.spec_from_file_location("lock_requirements", ROOT / "tools" / "lock_requirements.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "osiris" / "runtime" / "requirements.lock").read_text(encoding="utf-8")
    assert module.lock_text() == current, "run .venv/bin/python tools/lock_requirements.py"


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _third_party(paths: list[Path]) -> set[str]:
    dists = metadata.packages_distributions()
    needed = set()
    for path in paths:
        for top in _module_level_imports(path):
            if top not in sys.stdlib_module_names and top not in ("osiris", "__future__"):
                needed |= {cr.normalize(d) for d in dists.get(top, [top])}
    return needed


def test_runtime_packages_cover_what_the_runtime_imports() -> None:
    """The core runtime and dialects need only RUNTIME_PACKAGES; connectors may also use component packages."""
    core = [
        p for f in ("runtime", "dialects") for p in (ROOT / "osiris" / f).rglob("*.py") if "connectors" not in p.parts
    ]
    runtime = {cr.normalize(p) for p in cr.RUNTIME_PACKAGES}
    assert _third_party(core) <= runtime
    components = {cr.normalize(cr.split_requirement(p)[0]) for s in _all_specs() for p in s.packages}
    assert _third_party(sorted((ROOT / "osiris" / "runtime").rglob("connectors/*.py"))) <= runtime | components


def _all_specs() -> list:  # type: ignore[type-arg]
    registry = ctx().registry
    return [registry.get(n) for n in registry.names()]


def test_pins_components_and_their_dependencies() -> None:
    p = pipeline(step("a", component="mysql.extractor"), step("w", "write", component="postgres.writer"))
    c = ctx()
    result = cr.collect_requirements(p, c)
    assert result.diagnostics == ()
    product = result.product
    names = [line.split("==")[0] for line in product.packages]
    assert names == sorted(names, key=lambda n: cr.normalize(n.split("[")[0]))
    assert {"attrs", "pyarrow", "PyYAML", "PyMySQL", "psycopg[binary]", "psycopg-binary"} <= set(names)
    assert "duckdb" not in names
    version = metadata.version("psycopg")
    assert f"psycopg[binary]=={version}" in product.by_component["postgres.writer"]


def test_package_missing_from_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cr, "load_lock", lambda: cr.parse_lock("attrs==1\nnumpy==5\npyarrow==2\nPyYAML==3\nrich==4\n"))
    out = cr.collect_requirements(pipeline(step("a", component="mysql.extractor")), ctx())
    assert [d.code for d in out.diagnostics] == ["OSR-E145"]
    assert "'pymysql'" in out.diagnostics[0].message.lower()


def test_lock_closure_follows_via_edges() -> None:
    lock = cr.parse_lock("a==1  # via comp.x\nb==2  # via a\nc==3  # via b\nd==4  # via e\n")
    assert lock.closure({"a"}) == {"a", "b", "c"}
