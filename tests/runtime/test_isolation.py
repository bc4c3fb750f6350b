"""The runtime runs without the compiler: with every compiler package made unimportable, a plan still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rt_helpers import plan, step

ROOT = Path(__file__).resolve().parents[2]
COMPILER = [
    "osiris.ir",
    "osiris.passes",
    "osiris.frontend",
    "osiris.backends",
    "osiris.cli",
    "osiris.compile",
    "osiris.render",
    "osiris.components.registry",
    "lark",
    "cattrs",
    "jsonschema",
]

SCRIPT = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"blocked in the sandbox test: {{name}}")
        return None
sys.meta_path.insert(0, Block())
import pkgutil, osiris.runtime
for mod in pkgutil.walk_packages(osiris.runtime.__path__, "osiris.runtime."):
    if mod.name != "osiris.runtime.__main__":
        importlib.import_module(mod.name)
from osiris.runtime.cli import main
code = main(sys.argv[1:])
leaked = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
print("LEAKED", leaked)
sys.exit(code)
"""


def test_runtime_imports_and_runs_without_the_compiler(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("a,b\n1,x\n2,y\n")
    p = plan(
        step("ex", "filesystem.csv_extractor", {"path": "in.csv"}),
        step("tx", "duckdb.processor", {"query": "SELECT a * 10 AS a, b FROM input_df"}, ["ex"]),
        step("db", "duckdb.writer", {"path": "o.duckdb", "table": "t"}, ["tx"]),
        step("csv", "filesystem.csv_writer", {"path": "o.csv"}, ["tx"]),
        step("back", "duckdb.extractor", {"path": "o.duckdb", "table": "t"}, ["db"]),
        step("csv2", "filesystem.csv_writer", {"path": "o2.csv"}, ["back"]),
    )
    p["steps"][4]["inputs"] = []
    (tmp_path / "plan.json").write_text(json.dumps(p))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(blocked=COMPILER), "plan.json", "--format", "json"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "LEAKED []" in proc.stdout
    assert (tmp_path / "o.csv").read_text() == '"a","b"\n10,"x"\n20,"y"\n'
    assert (tmp_path / "o2.csv").read_text() == '"a","b"\n10,"x"\n20,"y"\n'
