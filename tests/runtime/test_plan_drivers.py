"""A plan is data: a hand-edited ``driver`` naming a module outside the component packages imports nothing and
runs nothing (OSR-E320, exit 2, no run record); components in development are trusted through OSIRIS_DRIVER_MODULES."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rt_helpers import plan, step

from osiris.runtime.cli import main as runtime_main

EVIL = "import pathlib\npathlib.Path(__file__).with_name('imported').write_text('x')\nclass Driver:\n    pass\n"


@pytest.mark.parametrize("driver", ["os:system", "builtins:exec", "subprocess:Popen", "hs2_evil:Driver"])
def test_foreign_driver_is_refused_before_anything_runs(
    driver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "hs2_evil.py").write_text(EVIL)  # a module the process could import (on sys.path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "data.csv").write_text("a\n1\n")
    p = plan(step("read", "filesystem.csv_extractor", {"path": "data.csv"}, driver=driver))
    (tmp_path / "plan.json").write_text(json.dumps(p))
    runs = tmp_path / "runs"
    code = runtime_main([str(tmp_path / "plan.json"), "--base-dir", str(tmp_path), "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert (
        f"error[OSR-E320]: cannot load driver '{driver}': module '{driver.partition(':')[0]}' is in no component" in err
    )
    assert not (tmp_path / "imported").exists()
    assert not runs.exists()


def test_a_trusted_package_and_a_non_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "hs2_evil.py").write_text(EVIL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OSIRIS_DRIVER_MODULES", "rt_drivers, hs2_evil")
    p = plan(step("read", "filesystem.csv_extractor", {}, driver="hs2_evil:Driver"))
    (tmp_path / "plan.json").write_text(json.dumps(p))
    runs = tmp_path / "runs"
    assert runtime_main([str(tmp_path / "plan.json"), "--runs-dir", str(runs)]) == 1  # loaded, then it fails
    assert (tmp_path / "imported").exists()
    capsys.readouterr()
    p["steps"][0]["driver"] = "osiris.components.registry:ENTRY_POINT_GROUP"
    (tmp_path / "plan.json").write_text(json.dumps(p))
    assert runtime_main([str(tmp_path / "plan.json"), "--runs-dir", str(runs)]) == 2
    assert "cannot load driver 'osiris.components.registry:ENTRY_POINT_GROUP': not a class (str)" in (
        capsys.readouterr().err
    )
