"""Smoke run of the benchmark harness (bench/) at tiny sizes: it must produce a results table whose copies are
verified, report failures with their stderr instead of numbers, and catch a wrong copy. No timing assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a top-level folder of the checkout, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench import checksums, datagen, startup, transfer  # noqa: E402
from bench.measure import Case, interleave  # noqa: E402
from bench.settings import Settings  # noqa: E402

pytestmark = pytest.mark.db


def _settings(mysql_db: str, pg_schema: str, tmp_path: Path) -> Settings:
    s = Settings.from_env()
    s.mysql_db, s.pg_schema, s.work_dir, s.data_dir = mysql_db, pg_schema, tmp_path / "work", tmp_path / "data"
    return s


def test_harness_produces_verified_results_table(mysql_db: str, pg_schema: str, tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    argv = [
        sys.executable,
        "-m",
        "bench",
        "--no-ref",
        "--rows",
        "300",
        "--repeats",
        "1",
        "--build-sizes",
        "10",
        "--only",
        "transfer,mysql-csv,csv-duckdb,compile",
        "--mysql-db",
        mysql_db,
        "--pg-schema",
        pg_schema,
        "--work-dir",
        str(tmp_path / "work"),
        "--results-dir",
        str(results_dir),
    ]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads((results_dir / "latest.json").read_text())
    sections = {s["title"]: s for s in results["sections"]}
    cases = {c["case"]: c for c in sections["MySQL -> PostgreSQL, 300 rows"]["cases"]}
    assert cases["native"]["status"] == "ok" and cases["native"]["verified"] is True
    assert cases["native"]["wall_median_s"] > 0 and cases["native"]["rss_median_mb"] > 0
    for name in ("dlt-sqlalchemy", "dlt-pyarrow", "dlt-connectorx", "dlt-pandas", "pandas"):
        assert cases[name]["skipped"] == "not requested (--no-ref)" and cases[name]["wall_median_s"] is None
    osc = cases["osirisc"]  # either a verified copy or a failure carrying stderr, never a number for a failure
    assert (osc["ok"] and osc["verified"]) or (osc["error"] and osc["wall_median_s"] is None)
    csv_cases = {c["case"]: c for c in sections["MySQL -> CSV, 300 rows"]["cases"]}
    assert csv_cases["mariadb-batch"]["verified"] is True
    duck = {c["case"]: c for c in sections["CSV -> DuckDB GROUP BY -> CSV, 300 rows"]["cases"]}
    assert duck["duckdb"]["verified"] is True
    table = (results_dir / "latest.md").read_text()
    assert "| native | ok | " in table and "| case | status | median s | x native |" in table


def test_wrong_copy_is_caught(mysql_db: str, pg_schema: str, tmp_path: Path) -> None:
    s = _settings(mysql_db, pg_schema, tmp_path)
    source = datagen.ensure_mysql_source(s, 250)
    want = checksums.mysql_checksums(s, source)
    datagen.pg_create_target(s, "copy")
    subprocess.run(transfer.native_copy_argv(s, source, "copy"), env=s.child_env(), check=True, capture_output=True)
    assert checksums.compare(want, checksums.pg_checksums(s, "copy")) is None
    with s.pg_connect() as conn:
        conn.execute(f'UPDATE "{pg_schema}".copy SET amount = amount + 0.01 WHERE id = 7')
        conn.execute(
            f"UPDATE \"{pg_schema}\".copy SET note = '' WHERE note IS NULL AND id = (SELECT min(id) FROM"
            f' "{pg_schema}".copy WHERE note IS NULL)'
        )
    problem = checksums.compare(want, checksums.pg_checksums(s, "copy"))
    assert problem is not None and "amount: md5, sum differ" in problem and "note: count, md5 differ" in problem


def test_failed_case_reports_stderr_and_no_number(tmp_path: Path) -> None:
    cases = [
        Case("good", lambda rep: ["true"], verifies=False),
        Case("bad", lambda rep: ["bash", "-c", "echo boom >&2; exit 3"]),
        Case("wrong", lambda rep: ["true"], verify=lambda rep: "rows 1 != 2"),
    ]
    res = {r.name: r for r in interleave(cases, 2, dict(os.environ), 30, lambda msg: None)}
    assert res["good"].ok and len(res["good"].samples) == 2 and res["good"].wall_median is not None
    assert res["bad"].error == "exit code 3: boom" and res["bad"].wall_median is None and len(res["bad"].samples) == 1
    assert res["wrong"].status == "FAILED" and "rows 1 != 2" in (res["wrong"].error or "")


def test_modes_native_references_copy_awkward_text_exactly(mysql_db: str, pg_schema: str, tmp_path: Path) -> None:
    """The modes section's native dump (server-escaped, utf8mb4) loads the awkward text exactly into both servers;
    the checksums tell the text 'NULL' and '\\N' from NULL (each value is hashed on its own)."""
    from bench import modes

    s = _settings(mysql_db, pg_schema, tmp_path)
    source = datagen.ensure_mysql_awkward(s, 400)
    want = checksums.mysql_checksums(s, source)
    notes = {r[0] for r in s.pg_connect().execute("SELECT 1").fetchall()}  # the servers answer
    assert notes == {1}
    for kind in ("pg", "mysql"):
        target = modes.Target(s, kind, 400)
        table = target.name("copy", 0)
        target.drop(table)
        (modes._pg_sql if kind == "pg" else modes._my_sql)(s, target.create(table, key=True))  # type: ignore[operator]
        subprocess.run(modes.piped(s, source, target.load_argv(table)), env=s.child_env(), check=True)
        assert checksums.compare(want, target.sums(table)) is None, kind
    conn = s.mysql_connect(mysql_db)
    with conn.cursor() as cur:  # the data holds what breaks naive copies
        cur.execute(
            f"SELECT SUM(note = 'NULL'), SUM(note = '\\\\N'), SUM(note = ''), SUM(note LIKE '%\\r%') FROM {source}"
        )
        assert all(n and n > 0 for n in cur.fetchone())
        cur.execute(
            f"UPDATE `{modes.Target(s, 'mysql', 400).name('copy', 0)}` SET note = NULL WHERE note = 'NULL' LIMIT 1"
        )
    conn.close()
    problem = checksums.compare(want, modes.Target(s, "mysql", 400).sums(modes.Target(s, "mysql", 400).name("copy", 0)))
    assert problem is not None and "note" in problem


def test_osiris_connection_file_holds_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import osiris_ref

    monkeypatch.setenv("MYSQL_PWD", "s3cret-bench-password")
    s = Settings.from_env()
    s.work_dir = tmp_path
    folder = osiris_ref.project(s, "mysql_csv", osiris_ref.MYSQL_CSV.format(table="t", out=tmp_path / "o.csv"))
    text = (folder / "osiris_connections.yaml").read_text()
    assert "s3cret" not in text and "${BENCH_MYSQL_PASSWORD}" in text
    assert "s3cret" not in (folder / "pipeline.yaml").read_text()


def test_startup_section_measures_every_case(tmp_path: Path) -> None:
    s = Settings.from_env()
    s.work_dir = tmp_path / "work"
    s.work_dir.mkdir()
    cases = startup.run_startup(s, lambda msg: None, repeats=1)
    assert [c.name for c in cases] == ["python-start", "check-cold", "check-duck-cache", "check-no-quick-schema"]
    assert all(c.ok and c.wall_median is not None for c in cases), [c.to_json() for c in cases]
    figures = startup.figures(cases)
    assert figures["check cold s"] == round(cases[1].wall_median or 0, 3) and figures["check cold x python -c pass"]
    assert all(c.cpu_median is not None and c.cpu_median > 0 for c in cases[1:])  # GNU time: user + system
    assert not (s.work_dir / "startup-cache").exists()  # the warmed cache is removed afterwards
