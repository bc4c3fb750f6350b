"""The layers of ARCHITECTURE.md are one contract: import-linter's contracts in pyproject.toml ([tool.importlinter]),
run by `make lint`. Here: they hold on the package, each one catches a violation planted in a copy of the package
(one import form each, including ``from osiris import x``, relative, lazy, TYPE_CHECKING and indirect imports), and
the allow-list contracts name every other top-level module, so a new module has to be placed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "osiris"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}

# contract id -> (file to write or append to, relative to the package's parent, and the violating code)
VIOLATIONS = {
    "secrets": ("osiris/secrets.py", "from osiris.dialects import types as _violation\n"),
    "ir": ("osiris/ir/_violation.py", "from osiris import passes\n"),  # the form a deny-list of names missed
    "frontend": ("osiris/frontend/_violation.py", "from ..backends import local\n"),
    "passes": ("osiris/passes/_violation.py", "def late():\n    import osiris.backends.local\n"),
    "runtime": ("osiris/runtime/_violation.py", "import osiris._violation_bridge\n"),  # indirect, see below
    "dialects": ("osiris/dialects/_violation.py", "from osiris.runtime import driver\n"),
    "components": (
        "osiris/components/mysql_writer/driver.py",
        "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from osiris.backends.local import plan\n",
    ),
}
BRIDGE = "from osiris.ir import nodes\n"  # a neutral-looking module through which the runtime reaches the IR


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the copy's osiris, not the installed one
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args, str(cwd / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_contract_holds_on_the_package() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in proc.stdout


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's Python sources and the contracts, copied (the copy is reset per test by ``_planted``)."""
    root = tmp_path_factory.mktemp("layering")
    shutil.copytree(PKG, root / "osiris", ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.json", "*.md"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_contract_catches_a_violation(package_copy: Path, contract: str) -> None:
    assert set(VIOLATIONS) == set(CONTRACTS)
    rel, code = VIOLATIONS[contract]
    target = package_copy / rel
    original = target.read_text(encoding="utf-8") if target.exists() else None
    bridge = package_copy / "osiris" / "_violation_bridge.py"
    try:
        target.write_text((original or "") + code, encoding="utf-8")
        bridge.write_text(BRIDGE, encoding="utf-8")
        clean = _lint(package_copy, "--contract", contract) if contract == "runtime" else None
        proc = _lint(package_copy)
    finally:
        if original is None:
            target.unlink()
        else:
            target.write_text(original, encoding="utf-8")
        bridge.unlink()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"Contracts: {len(CONTRACTS) - 1} kept, 1 broken." in proc.stdout, proc.stdout
    module = rel.removesuffix(".py").replace("/", ".")
    assert module in proc.stdout.split("Broken contracts", 1)[1]
    if clean is not None:  # the indirect chain is what breaks it: runtime -> bridge -> ir
        assert "osiris._violation_bridge" in clean.stdout and "osiris.ir.nodes" in clean.stdout


def _top_level() -> set[str]:
    names = {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}
    return {f"osiris.{n}" for n in names}


@pytest.mark.parametrize(
    ("contract", "allowed"),
    [
        ("secrets", {"osiris.secrets"}),
        ("runtime", {"osiris.runtime", "osiris.dialects", "osiris.secrets", "osiris.components"}),
        ("components", {"osiris.runtime", "osiris.dialects", "osiris.secrets", "osiris.components"}),
    ],
)
def test_allow_list_contracts_name_every_other_module(contract: str, allowed: set[str]) -> None:
    """Runtime, component code and secrets.py may import only what they are allowed: every other top-level module
    is forbidden by name (import-linter's contracts are deny-lists)."""
    forbidden = set(CONTRACTS[contract]["forbidden_modules"])
    top = {f for f in forbidden if f.count(".") == 1}
    assert top | allowed == _top_level()
    assert not top & allowed


def test_every_folder_of_the_package_is_a_regular_package() -> None:
    """import-linter (grimp) does not see modules in a folder without ``__init__.py`` inside a regular package."""
    missing = [
        str(d.relative_to(ROOT))
        for d in sorted(PKG.rglob("*"))
        if d.is_dir() and d.name != "__pycache__" and any(d.rglob("*.py")) and not (d / "__init__.py").is_file()
    ]
    assert missing == []
