"""`osirisc init`, `runs list|show` and `report`, as a new user meets them; the report in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from osiris.cli import main


def _osirisc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "osiris.cli", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("syntax", ["oml", "text"])
def test_init_then_check_run_and_report(tmp_path: Path, syntax: str) -> None:
    """`osirisc init demo && cd demo && osirisc run pipeline.yaml && osirisc report --last`, with nothing else."""
    init = _osirisc(tmp_path, "init", "demo", "--syntax", syntax)
    assert init.returncode == 0, init.stderr
    demo = tmp_path / "demo"
    pipeline = "pipeline.yaml" if syntax == "oml" else "pipeline.osiris"
    assert {p.name for p in demo.iterdir()} == {
        pipeline,
        "data",
        "osiris_connections.yaml",
        ".env.example",
        ".gitignore",
        "README.md",
    }
    ignored = (demo / ".gitignore").read_text().split()
    assert {".env", "runs/", "build/"} <= set(ignored)
    assert "${PGPASSWORD}" in (demo / "osiris_connections.yaml").read_text()
    assert _osirisc(demo, "check", pipeline).returncode == 0
    run = _osirisc(demo, "run", pipeline)
    assert run.returncode == 0, run.stderr
    assert (demo / "output" / "revenue_by_region.csv").read_text().count("\n") == 5
    report = _osirisc(demo, "report", "--last")
    assert report.returncode == 0, report.stderr
    (page,) = demo.glob("runs/demo/*/report.html")
    assert "<svg" in page.read_text() and "revenue-by-region" in page.read_text()
    again = _osirisc(tmp_path, "init", "demo")
    assert again.returncode == 2 and "nothing written" in again.stderr


def test_runs_list_and_show_failed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "p")]) == 0
    pipeline = tmp_path / "p" / "pipeline.yaml"
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["run", str(pipeline), *runs]) == 0
    bad = pipeline.read_text().replace("FROM df_read_orders", "FROM df_read_orders WHERE CAST(region AS INT) > 0")
    pipeline.write_text(bad)  # valid SQL that fails at run time on the text 'north'
    capsys.readouterr()
    assert main(["run", str(pipeline), *runs]) == 1
    capsys.readouterr()
    assert main(["runs", "list", *runs, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in listed] == ["failed", "ok"]  # newest first
    assert listed[0]["failed_step"] == "revenue-by-region" and "north" in listed[0]["error"]
    assert listed[1]["rows"] == 8 and listed[1]["duration_s"] > 0
    assert main(["runs", "list", *runs]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["run", "pipeline", "status"] and "failed" in table[1] and "ok" in table[2]
    assert main(["runs", "show", listed[0]["run_id"][:20], *runs]) == 0
    shown = capsys.readouterr().out
    assert "[revenue-by-region] failed" in shown and "error:" in shown
    assert main(["runs", "show", "nope", *runs]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
def test_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") or os.environ.get("OSIRIS_REQUIRE_DB"):
            pytest.fail("chromium is not installed (.ci/run installs it from Debian's packages)")
        pytest.skip("no chromium on this machine: apt-get install chromium")
    from PIL import Image

    assert main(["init", str(tmp_path / "p")]) == 0
    assert main(["run", str(tmp_path / "p" / "pipeline.yaml"), "--runs-dir", str(tmp_path / "runs")]) == 0
    page = tmp_path / "report.html"
    assert main(["report", "--last", "--runs-dir", str(tmp_path / "runs"), "-o", str(page)]) == 0
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert len(re.findall(r'<g class="node"', dom)) == 4  # the DAG as the browser parsed it
    assert len(re.findall(r'<path class="edge"', dom)) == 3
    assert len(re.findall(r"<tr data-step=", dom)) == 4  # the step table
    shot = tmp_path / "phone.png"
    subprocess.run(
        [*flags, "--window-size=412,900", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (412, 900)
    raw = image.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    green = sum(1 for r, g, b in pixels if abs(r - 0x2E) < 30 and abs(g - 0x7D) < 30 and abs(b - 0x32) < 30)
    dark = sum(1 for r, g, b in pixels if r + g + b < 150)
    assert green > 300, "the DAG's 'ok' node outlines and the status badge are drawn"
    assert dark > 2000, "the text of the headings and the step table is drawn"
