"""``osirisc run`` end to end on examples/quickstart, ``--plan`` on a build, and the bare runtime entry point."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from rt_helpers import plan, step

from osiris.cli import main
from osiris.runtime.cli import main as runtime_main
from osiris.runtime.console import Reporter
from osiris.runtime.engine import RunOptions, run_plan
from osiris.runtime.plan import plan_sha256

# What running an example leaves behind; copies of an example must start clean.
EXAMPLE_OUTPUTS = shutil.ignore_patterns("output", "out", "runs", "build")

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = '"region","items","revenue"\n"east",7,52.5\n"north",6,31.75\n"south",5,19.5\n"west",1,10\n'


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "qs", ignore=EXAMPLE_OUTPUTS)
    return tmp_path / "qs"


def test_osirisc_run_quickstart(quickstart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    code = main(["run", str(quickstart / "pipeline.yaml"), "--runs-dir", str(runs), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    status = json.loads(out)
    assert status["ok"] and status["steps"]["write-duckdb"]["rows_in"] == 4
    assert (quickstart / "output" / "revenue_by_region.csv").read_text() == EXPECTED
    with duckdb.connect(str(quickstart / "output" / "quickstart.duckdb")) as con:
        rows = con.sql("SELECT region, revenue FROM revenue_by_region ORDER BY region").fetchall()
    assert rows == [("east", 52.5), ("north", 31.75), ("south", 19.5), ("west", 10.0)]
    [run_dir] = list((runs / "quickstart").iterdir())
    assert json.loads((run_dir / "status.json").read_text())["ok"] is True
    # a second run replaces, not appends
    assert main(["run", str(quickstart / "pipeline.yaml"), "--runs-dir", str(runs), "--jobs", "1"]) == 0
    with duckdb.connect(str(quickstart / "output" / "quickstart.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM revenue_by_region").fetchone() == (4,)


def test_run_built_plan(quickstart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = tmp_path / "build"
    assert main(["build", str(quickstart / "pipeline.yaml"), "-o", str(build)]) == 0
    args = ["run", "--plan", str(build / "plan.json"), "--base-dir", str(quickstart), "--runs-dir", str(tmp_path / "r")]
    assert main(args) == 0
    assert (quickstart / "output" / "revenue_by_region.csv").read_text() == EXPECTED
    err = capsys.readouterr().err
    assert "[write-csv] ok in " in err and ": 4 rows in" in err and "run ok" in err


def test_a_plan_edited_after_its_build_is_refused_unless_its_fingerprints_go(
    quickstart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fingerprints.json beside plan.json records the plan's sha256: an edit that still passes the structure checks
    (here the transform's SQL) is OSR-E303 before anything runs; without the build's record the edit runs."""
    build = tmp_path / "build"
    assert main(["build", str(quickstart / "pipeline.yaml"), "-o", str(build)]) == 0
    data = json.loads((build / "plan.json").read_text(encoding="utf-8"))
    assert plan_sha256(data) == json.loads((build / "fingerprints.json").read_text(encoding="utf-8"))["plan"]
    [transform] = [s for s in data["steps"] if s["mode"] == "transform"]
    transform["config"]["query"] = transform["config"]["query"].replace("ORDER BY region", "ORDER BY region DESC")
    (build / "plan.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    runs = tmp_path / "r"
    args = ["run", "--plan", str(build / "plan.json"), "--base-dir", str(quickstart), "--runs-dir", str(runs)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error[OSR-E303]" in err and "was changed after it was built" in err, err
    assert not runs.exists() and not (quickstart / "output").exists()
    (build / "fingerprints.json").unlink()
    assert main(args) == 0
    assert (quickstart / "output" / "revenue_by_region.csv").read_text().splitlines()[1].startswith('"west"')


def test_usage_and_invalid_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    bad = tmp_path / "plan.json"
    bad.write_text('{"plan_version": 1, "pipeline": {"name": "p"}, "steps": [{"id": "a"}]}')
    assert main(["run", "--plan", str(bad)]) == 2
    assert "error[OSR-E301]: invalid plan: steps[0].component: expected a non-empty string" in capsys.readouterr().err
    bad.write_text("{not json")
    assert runtime_main([str(bad)]) == 2
    assert "error[OSR-E300]" in capsys.readouterr().err
    bad.write_text('{"plan_version": 9}')
    assert runtime_main([str(bad)]) == 2
    assert "error[OSR-E302]" in capsys.readouterr().err
    p = plan(step("a", "filesystem.csv_extractor", {}))
    p["steps"][0]["dialect"] = ["csv"]
    bad.write_text(json.dumps(p))
    assert runtime_main([str(bad)]) == 2
    assert "error[OSR-E301]: invalid plan: steps[0].dialect: expected null or a dialect name" in capsys.readouterr().err
    p = plan(step("a", "test.extractor", {}, driver="osiris.components.no_such.driver:Driver"))
    bad.write_text(json.dumps(p))
    assert runtime_main([str(bad), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "error[OSR-E320]: cannot load driver 'osiris.components.no_such.driver:Driver'" in capsys.readouterr().err
    p["steps"].append(step("b", "test.writer", {}, ["zzz"], driver="rt_drivers:Sink"))
    bad.write_text(json.dumps(p))
    assert runtime_main([str(bad)]) == 2
    assert "'zzz' is not an earlier step" in capsys.readouterr().err


def test_live_display_renders_rows(tmp_path: Path) -> None:
    stream = io.StringIO()
    reporter = Reporter("text", stream, live=True)
    p = plan(
        step("src", "test.extractor", {"batches": 3, "rows": 10}, driver="rt_drivers:Numbers"),
        step("w", "test.writer", {}, ["src"], driver="rt_drivers:Sink"),
    )
    result = run_plan(
        p, RunOptions(base_dir=tmp_path, runs_dir=tmp_path / "runs", env={}, listeners=[reporter], watch=reporter.watch)
    )
    assert result.ok
    text = stream.getvalue()
    assert "rows/s" in text and "src" in text and "30" in text and "run ok" in text
