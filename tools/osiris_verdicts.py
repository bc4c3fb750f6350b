"""Re-derive the ``osiris:`` verdicts of tests/osiris_compat/corpus.yaml by running Osiris's own validator.

Run: ``.venv/bin/python tools/osiris_verdicts.py /path/to/osiris-checkout`` (a checkout of keboola/osiris: its
``osiris/`` package and ``components/`` folder). Prints each case whose recorded verdict differs from what
``OMLValidator`` says now, and exits 1 if any does. Osiris's heavy runtime imports (SQLAlchemy, pandas, clients)
are replaced by empty modules: the validator only reads component specs. Nothing of Osiris is copied here.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "osiris_compat" / "corpus.yaml"
STUBBED = {"sqlalchemy", "pandas", "supabase", "pymysql", "duckdb", "requests", "e2b", "openai", "anthropic", "rich",
           "psycopg2", "numpy", "dotenv", "postgrest", "mcp", "fastmcp", "httpx", "tenacity", "aiofiles", "click",
           "posthog", "google"}  # fmt: skip


class _Stubs(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name.split(".", maxsplit=1)[0] in STUBBED:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = mock.MagicMock(name=spec.name)
        module.__path__, module.__spec__ = [], spec
        return module

    def exec_module(self, module: ModuleType) -> None:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "osiris" / "core" / "oml_validator.py").is_file():
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, argv[0])
    sys.meta_path.insert(0, _Stubs())
    os.chdir(argv[0])  # Osiris's registry finds components/ from the working directory
    from osiris.core.oml_validator import OMLValidator  # Osiris's, from the checkout on sys.path

    validator = OMLValidator()
    changed = 0
    cases = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    for case in cases:
        valid, errors, warnings = validator.validate(yaml.safe_load(case["pipeline"]))
        now: dict[str, Any] = {"valid": valid}
        if errors:
            now["errors"] = sorted(e["type"] for e in errors)
        if warnings:
            now["warnings"] = sorted(w["type"] for w in warnings)
        recorded = {k: sorted(v) if isinstance(v, list) else v for k, v in case["osiris"].items()}
        if recorded != now:
            changed += 1
            print(f"{case['case']}: recorded {recorded}, Osiris says {now}")
    print(f"{len(cases)} cases, {changed} differ")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
