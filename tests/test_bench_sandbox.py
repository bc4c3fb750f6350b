"""The bench sandbox section: its parser reads the phase line `osirisc run --target sandbox` prints, and a tiny run
of the section gives verified local / fresh-venv / reused-venv cases with their phases. No timing assertions."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a top-level folder of the checkout, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench import sandbox  # noqa: E402
from bench.settings import Settings  # noqa: E402


def test_phases_parses_the_cli_line() -> None:
    line = "run record: runs/p/20260101T000000Z-abc (sandbox: setup 12.13 s, execute 0.83 s, collect 0.01 s)\n"
    assert sandbox.phases("[write] ok\n" + line) == {"setup_s": 12.13, "execute_s": 0.83, "collect_s": 0.01}
    assert sandbox.phases("run record: runs/p/x\n") is None


def test_section_runs_verified_cases(tmp_path: Path) -> None:
    s = Settings.from_env()
    s.work_dir, s.data_dir = tmp_path / "work", tmp_path / "data"
    cases, figures = sandbox.run_sandbox(s, 50, lambda msg: None, repeats=1)
    by_name = {c.name: c for c in cases}
    assert set(by_name) == {"local", "sandbox-fresh", "sandbox-reuse"}
    for case in cases:
        assert case.ok and case.verified is True, case.error
    for name in ("sandbox-fresh", "sandbox-reuse"):
        assert set(by_name[name].extra["phases"]) == {"setup_s", "execute_s", "collect_s"}
    assert figures["emit --target e2b"].startswith("ok, wall_s ")
    assert "bundle_bytes" in figures["emit --target e2b"]
