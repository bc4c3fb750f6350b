"""The layers of docs/design.md, enforced: who may import whom inside the osiris package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "osiris"

# package -> osiris subpackages it must never import
FORBIDDEN = {
    "ir": ("osiris.frontend", "osiris.passes", "osiris.backends", "osiris.runtime", "osiris.cli", "osiris.compile"),
    "passes": ("osiris.backends", "osiris.cli", "osiris.runtime"),
    "frontend": ("osiris.passes", "osiris.backends", "osiris.runtime", "osiris.cli"),
    # The runtime runs inside a sandbox without the compiler.
    "runtime": ("osiris.ir", "osiris.passes", "osiris.frontend", "osiris.backends", "osiris.cli", "osiris.compile"),
    "dialects": (
        "osiris.ir",
        "osiris.passes",
        "osiris.frontend",
        "osiris.backends",
        "osiris.cli",
        "osiris.compile",
        "osiris.runtime",
        "osiris.components",
    ),
}


# Modules at the package root shared by both sides, with the osiris modules they may import. ``osiris/secrets.py``
# (the one secrets model: secret fields, markers, DSN passwords, the mask) is imported by the compiler (passes,
# render, cli) and by the runtime and drivers, and ships in every sandbox bundle: it imports no other osiris module.
NEUTRAL_MODULES: dict[str, tuple[str, ...]] = {"secrets.py": ()}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _driver_files() -> list[Path]:
    return sorted((PKG / "components").glob("*/driver.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    offenders = []
    for path in sorted((PKG / layer).rglob("*.py")):
        for name in _imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                offenders.append(f"{path.relative_to(PKG.parent)} imports {name}")
    assert offenders == []


def test_drivers_import_only_runtime_side() -> None:
    offenders = []
    for path in _driver_files():
        for name in _imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN["runtime"]):
                offenders.append(f"{path.relative_to(PKG.parent)} imports {name}")
    assert offenders == []


@pytest.mark.parametrize("module", sorted(NEUTRAL_MODULES))
def test_neutral_modules_import_only_what_they_may(module: str) -> None:
    names = {n for n in _imports(PKG / module) if n == "osiris" or n.startswith("osiris.")}
    assert names <= set(NEUTRAL_MODULES[module])


def test_runtime_uses_the_neutral_secrets_module() -> None:
    """The runtime may import ``osiris.secrets`` (not in its forbidden list) and the compiler may too: one model."""
    assert not any("osiris.secrets".startswith(bad) for bad in FORBIDDEN["runtime"] + FORBIDDEN["passes"])
    assert "osiris.secrets" in _imports(PKG / "runtime" / "connections.py")
    assert "osiris.secrets" in _imports(PKG / "passes" / "redact_secrets.py")
