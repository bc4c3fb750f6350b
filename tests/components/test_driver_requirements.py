"""Every third-party module a driver imports at module level (through the osiris modules it pulls in) is provided
by the packages its spec declares plus the runtime's own, as locked. The sandbox installs exactly those, so a
missing declaration would only show up there (it did once: numpy for the COPY encoder)."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from osiris.backends.e2b.bundle import _imported, _module_file, _parents
from osiris.components.registry import default_registry
from osiris.passes.collect_requirements import RUNTIME_PACKAGES

LOCK = Path(__file__).resolve().parents[2] / "osiris" / "runtime" / "requirements.lock"
_LINE = re.compile(r"^([A-Za-z0-9._-]+)==\S+(?:\s+#\s*via\s+(.*))?$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", maxsplit=1)[0]).lower()


def _locked_closure(roots: set[str]) -> set[str]:
    via: dict[str, set[str]] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line.strip())
        if m:
            via[_norm(m[1])] = {_norm(v) for v in (m[2] or "").split(",") if v.strip()}
    have = {_norm(r) for r in roots}
    changed = True
    while changed:
        new = {name for name, parents in via.items() if parents & have} - have
        have |= new
        changed = bool(new)
    return have


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try: ... except ImportError`` or ``if TYPE_CHECKING``."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            return True
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _closure(module: str) -> list[Path]:
    """Source files of the osiris modules ``module`` imports, transitively (what loading the driver loads)."""
    todo, seen = [module], {}
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo += _parents(name) + sorted(_imported(path, name))
    return sorted(seen.values())


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        scope = parents.get(node)
        while scope is not None and not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
            scope = parents.get(scope)
        if not isinstance(scope, ast.Module) or _optional(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - {"osiris", "__future__"} - set(sys.stdlib_module_names)


@pytest.mark.parametrize("name", default_registry().names())
def test_driver_imports_are_declared(name: str) -> None:
    spec = default_registry().get(name)
    assert spec is not None and spec.driver
    module = spec.driver.partition(":")[0]
    imports: set[str] = set()
    for path in _closure(module):
        imports |= _module_level_imports(path)
    provided = _locked_closure(set(spec.packages) | set(RUNTIME_PACKAGES))
    dists = metadata.packages_distributions()
    missing = sorted(m for m in imports if not {_norm(d) for d in dists.get(m, [m])} & provided)
    assert not missing, f"{name}: modules imported but not provided by its spec's packages: {missing}"
