"""Every example that needs no server runs end to end (`osirisc run`) in a copy of examples/."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from osiris.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SERVER_FAMILIES = ("mysql.", "postgres.", "supabase.")
# duckdb_roundtrip reads the quickstart's DuckDB output, so the quickstart runs first.
ORDER = ["quickstart/pipeline.yaml"]


def _server_free() -> list[str]:
    files = sorted(str(p.relative_to(EXAMPLES)) for p in [*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("*.osiris")])
    free = [f for f in files if not any(fam in (EXAMPLES / f).read_text(encoding="utf-8") for fam in SERVER_FAMILIES)]
    return ORDER + free


def test_server_free_examples_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "examples"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("output", "out", "build"))
    ran = []
    for rel in _server_free():
        code = main(["run", str(root / rel), "--runs-dir", str(tmp_path / "runs")])
        assert code == 0, f"{rel}: {capsys.readouterr().err}"
        ran.append(rel)
    assert len(ran) >= 6, ran
    with duckdb.connect(str(root / "quickstart" / "output" / "quickstart.duckdb"), read_only=True) as con:
        regions = con.execute("SELECT region FROM revenue_by_region ORDER BY region").fetchall()
        history = con.execute("SELECT count(*) FROM revenue_history").fetchone()
    assert regions and all(isinstance(r[0], str) for r in regions)
    assert history is not None and history[0] >= 1
    csv = (root / "quickstart" / "output" / "revenue_by_region.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].replace('"', "") == "region,items,revenue"
