"""--target sandbox: parity with local runs (quickstart; movies on the real MariaDB and Postgres), refusal of a
tampered bundle, no secret anywhere, and the default contract (fresh venv) through the CLI.

One virtualenv (built from the movies bundle's requirements, a superset of the quickstart's) is shared by the
parity tests; the CLI test builds its own, as every default run does.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import duckdb
import psycopg
import pymysql
import pytest
from e2b_support import EXAMPLES, bundle_of, events, record_files, repack, step_events

from osiris.backends.e2b.entrypoint import SUMS, format_sums
from osiris.backends.e2b.launch import LaunchOptions, launch
from osiris.backends.e2b.sandbox import create_venv
from osiris.backends.e2b.tarball import read_tar_gz
from osiris.backends.e2b.trust import fingerprint
from osiris.cli import main

# What running an example leaves behind; copies of an example must start clean.
EXAMPLE_OUTPUTS = shutil.ignore_patterns("output", "out", "runs", "build")

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@pytest.fixture(scope="session")
def shared_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("venv")
    bundle = bundle_of(EXAMPLES / "movies" / "pipeline.yaml", work / "movies.tar.gz")
    (work / "requirements.txt").write_bytes(read_tar_gz(bundle.read_bytes())["requirements.txt"])
    create_venv(work / "venv", work / "requirements.txt", work / "install.log")
    return work / "venv"  # left for pytest's base temp retention (deleting it took ~10 s of the suite)


def _only_run(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.glob("*/*") if p.is_dir()]
    return run_dir


def _sandbox(bundle: Path, base: Path, runs: Path, venv: Path, expect: str | None = None) -> int:
    """Launch ``bundle`` expecting its own fingerprint (as `osirisc run FILE --target sandbox` does), or ``expect``."""
    if expect is None:
        expect = fingerprint(bundle.read_bytes()) if bundle.is_file() else "sha256:" + "0" * 64
    options = LaunchOptions(target="sandbox", expect=expect, base_dir=base, runs_dir=runs, venv=venv)
    return launch(bundle, options)[0]


def _table(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_quickstart_parity(tmp_path: Path, shared_venv: Path) -> None:
    local, sandbox = tmp_path / "local", tmp_path / "sandbox"
    shutil.copytree(EXAMPLES / "quickstart", local, ignore=EXAMPLE_OUTPUTS)
    shutil.copytree(EXAMPLES / "quickstart", sandbox, ignore=EXAMPLE_OUTPUTS)
    assert main(["run", str(local / "pipeline.yaml"), "--runs-dir", str(tmp_path / "runs-local")]) == 0
    bundle = bundle_of(sandbox / "pipeline.yaml", tmp_path / "q.tar.gz")
    assert _sandbox(bundle, sandbox, tmp_path / "runs-sandbox", shared_venv) == 0

    def outputs(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in (root / "output").rglob("*") if p.is_file()}

    assert outputs(local) == outputs(sandbox) == {"output/quickstart.duckdb", "output/revenue_by_region.csv"}
    csv = (local / "output" / "revenue_by_region.csv").read_bytes()
    assert csv == (sandbox / "output" / "revenue_by_region.csv").read_bytes() and csv.count(b"\n") == 5
    sql = "SELECT * FROM revenue_by_region ORDER BY region"
    assert _table(local / "output" / "quickstart.duckdb", sql) == _table(sandbox / "output" / "quickstart.duckdb", sql)
    run_local, run_sandbox = _only_run(tmp_path / "runs-local"), _only_run(tmp_path / "runs-sandbox")
    assert step_events(events(run_local)) == step_events(events(run_sandbox))
    assert step_events(events(run_sandbox))["revenue-by-region"][-1][:3] == ("step_complete", 8, 4)
    assert record_files(run_local) == record_files(run_sandbox)
    kinds = [e["event"] for e in events(run_sandbox)]
    assert kinds[:4] == ["bundle_verified", "requirements_installed", "imports_checked", "run_start"]
    assert next(e for e in events(run_sandbox) if e["event"] == "imports_checked")["missing"] == []
    assert (run_sandbox / "artifacts" / "pip-install.log").is_file()


def test_tampered_bundle_is_refused_before_anything_runs(
    tmp_path: Path, shared_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "p", ignore=EXAMPLE_OUTPUTS)
    files = read_tar_gz(bundle_of(tmp_path / "p" / "pipeline.yaml", tmp_path / "q.tar.gz").read_bytes())
    body = bytearray(files["osiris/runtime/scheduler.py"])
    body[200] ^= 0x20
    files["osiris/runtime/scheduler.py"] = bytes(body)
    (tmp_path / "t.tar.gz").write_bytes(repack(files))
    assert _sandbox(tmp_path / "t.tar.gz", tmp_path / "p", tmp_path / "runs", shared_venv) == 10
    assert "error" not in capsys.readouterr().out
    run_dir = _only_run(tmp_path / "runs")
    kinds = [e["event"] for e in events(run_dir)]
    assert kinds == ["bundle_error"]
    assert "osiris/runtime/scheduler.py: checksum mismatch" in events(run_dir)[0]["message"]
    assert not (tmp_path / "p" / "output").exists()
    assert _sandbox(tmp_path / "missing.tar.gz", tmp_path / "p", tmp_path / "runs", shared_venv) == 2
    assert "OSR-E404" in capsys.readouterr().err


def test_rewritten_bundle_with_regenerated_checksums_is_refused_by_its_fingerprint(
    tmp_path: Path, shared_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack the self-attested checks miss: edit code and requirements, regenerate SHA256SUMS. The host checks
    the bytes against the fingerprint kept outside the bundle before it unpacks, installs or runs anything."""
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "p", ignore=EXAMPLE_OUTPUTS)
    original = bundle_of(tmp_path / "p" / "pipeline.yaml", tmp_path / "q.tar.gz")
    expected = fingerprint(original.read_bytes())
    files = read_tar_gz(original.read_bytes())
    marker = tmp_path / "injected-code-ran"
    files["osiris/runtime/scheduler.py"] += f"\nopen({str(marker)!r}, 'w').close()\n".encode()
    files["requirements.txt"] += b"six==1.16.0\n"
    del files[SUMS]
    files[SUMS] = format_sums(files).encode()
    rewritten = tmp_path / "rewritten.tar.gz"
    rewritten.write_bytes(repack(files))
    assert _sandbox(rewritten, tmp_path / "p", tmp_path / "runs", shared_venv, expect=expected) == 10
    err = capsys.readouterr().err
    assert "error[OSR-E412]" in err and expected in err and fingerprint(rewritten.read_bytes()) in err
    assert not marker.exists() and not (tmp_path / "runs").exists() and not (tmp_path / "p" / "output").exists()
    # the bundle it was emitted as still runs with the same fingerprint
    assert _sandbox(original, tmp_path / "p", tmp_path / "runs", shared_venv, expect=expected) == 0
    assert not marker.exists()


def test_cli_bundle_runs_only_with_the_emitted_fingerprint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "p", ignore=EXAMPLE_OUTPUTS)
    out = tmp_path / "out"
    assert main(["emit", str(tmp_path / "p" / "pipeline.yaml"), "--target", "e2b", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    (bundle,) = out.glob("*.bundle.tar.gz")
    expected = fingerprint(bundle.read_bytes())
    assert f"fingerprint {expected}" in printed and f"--expect {expected}" in printed
    base = ["run", "--bundle", str(bundle), "--target", "sandbox", "--base-dir", str(tmp_path / "p")]
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert main([*base, *runs]) == 2
    assert "--bundle needs --expect FINGERPRINT" in capsys.readouterr().err
    assert main([*base, *runs, "--expect", "sha256:abc"]) == 2
    assert "error[OSR-E412]" in capsys.readouterr().err
    bundle.write_bytes(bundle.read_bytes() + b"\0")  # any other bytes, even a valid archive plus padding
    assert main([*base, *runs, "--expect", expected]) == 10
    assert "not the expected " + expected in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "p" / "output").exists()
    assert main(["run", str(tmp_path / "p" / "pipeline.yaml"), "--expect", expected, *runs]) == 2
    assert "--expect goes with --bundle" in capsys.readouterr().err


def seed_statements() -> list[str]:
    """The statements of examples/movies/seed.sql (the script users load), comments dropped."""
    text = (EXAMPLES / "movies" / "seed.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


@pytest.mark.db
def test_movies_parity_and_no_secret_anywhere(
    tmp_path: Path,
    *,
    shared_venv: Path,
    mysql_db: str,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = pymysql.connect(**MY, database=mysql_db, autocommit=True)
    with conn.cursor() as cur:
        for statement in seed_statements():
            cur.execute(statement)
    conn.close()
    secret = f"pg-secret-{uuid.uuid4().hex}"  # trust auth ignores it, but it flows everywhere a password would
    monkeypatch.setenv("PGPASSWORD", secret)
    monkeypatch.setenv("MYSQL_DATABASE", mysql_db)
    for var in ("OSIRIS_HOME", "PGHOST", "PGDATABASE", "PGUSER", "MYSQL_HOST", "MYSQL_USER", "MYSQL_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "movies"
    shutil.copytree(EXAMPLES / "movies", folder, ignore=EXAMPLE_OUTPUTS)
    pipeline = folder / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("schema: public", f"schema: {pg_schema}"))

    def target() -> list[tuple[object, ...]]:
        with psycopg.connect(**PG) as pg:
            return pg.execute(f'SELECT * FROM "{pg_schema}".director_stats ORDER BY director_id').fetchall()

    assert main(["run", str(pipeline), "--runs-dir", str(tmp_path / "runs-local")]) == 0
    local_rows = target()
    assert [r[:3] for r in local_rows] == [(1, "Ridley Scott", 2), (2, "James Cameron", 2), (3, "Michael Mann", 1)]
    with psycopg.connect(**PG, autocommit=True) as pg:
        pg.execute(f'DROP TABLE "{pg_schema}".director_stats')
    bundle = bundle_of(pipeline, tmp_path / "m.tar.gz")
    assert _sandbox(bundle, folder, tmp_path / "runs-sandbox", shared_venv) == 0
    assert target() == local_rows
    run_local, run_sandbox = _only_run(tmp_path / "runs-local"), _only_run(tmp_path / "runs-sandbox")
    assert step_events(events(run_local)) == step_events(events(run_sandbox))
    assert step_events(events(run_sandbox))["extract-movies"][-1][:3] == ("step_complete", 0, 5)
    assert record_files(run_local) == record_files(run_sandbox)
    out = capsys.readouterr()
    needle = secret.encode()
    assert needle not in bundle.read_bytes()
    assert all(needle not in body for body in read_tar_gz(bundle.read_bytes()).values())
    for root in (tmp_path / "runs-local", tmp_path / "runs-sandbox", folder):
        for path in root.rglob("*"):
            assert not path.is_file() or needle not in path.read_bytes(), path
    assert secret not in out.out and secret not in out.err


@pytest.mark.slow
def test_cli_default_contract_builds_a_fresh_venv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "p", ignore=EXAMPLE_OUTPUTS)
    code = main(
        ["run", str(tmp_path / "p" / "pipeline.yaml"), "--target", "sandbox", "--runs-dir", str(tmp_path / "runs")]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "(sandbox: setup" in err
    run_dir = _only_run(tmp_path / "runs")
    log = (run_dir / "artifacts" / "venv-install.log").read_text()
    assert "-m venv" in log and "install" in log and "-r" in log
    assert (tmp_path / "p" / "output" / "revenue_by_region.csv").is_file()
