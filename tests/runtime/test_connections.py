"""Connections: file search, alias choice, ${VAR} expansion, .env, $secret markers, and redaction everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import plan, step

from osiris.runtime.connections import Connections, expand, find_file, load_dotenv, resolve_secrets
from osiris.runtime.console import Reporter
from osiris.runtime.engine import RunOptions, run_plan
from osiris.runtime.errors import RunError
from osiris.runtime.redact import Redactor

ROOT = Path(__file__).resolve().parents[2]


def _conns(data: dict[str, Any], env: dict[str, str] | None = None) -> Connections:
    return Connections(data, "osiris_connections.yaml", env or {}, Redactor())


def test_alias_choice() -> None:
    c = _conns({"mysql": {"a": {"host": "x"}, "b": {"default": True, "host": "y"}}, "pg": {"default": {"host": "z"}}})
    assert c.resolve("mysql", None) == {"host": "y"}
    assert c.resolve("mysql", "a") == {"host": "x"}
    assert c.resolve("pg", None) == {"host": "z"}
    with pytest.raises(RunError, match=r"'@mysql.c' is not in osiris_connections.yaml \(has: a, b\)") as e:
        c.resolve("mysql", "c")
    assert e.value.code == "OSR-E312"
    with pytest.raises(RunError, match="no 'duckdb' connections") as e:
        c.resolve("duckdb", None)
    none = _conns({"mysql": {"a": {}, "b": {}}})
    with pytest.raises(RunError, match=r"none is marked default: true .*aliases: a, b") as e:
        none.resolve("mysql", None)
    assert e.value.code == "OSR-E313"


def test_env_expansion_and_fallback() -> None:
    env = {"HOST": "db.local"}
    assert expand({"h": "${HOST}:${PORT:-3306}", "n": 5, "l": ["${HOST}"]}, env, "x") == {
        "h": "db.local:3306",
        "n": 5,
        "l": ["db.local"],
    }
    with pytest.raises(RunError, match=r"@mysql\.a\.password: environment variable 'PW' is not set") as e:
        expand({"password": "${PW}"}, {}, "@mysql.a")
    assert e.value.code == "OSR-E314"


def test_dotenv_never_overrides(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# c\nA=from-file\nexport B='quoted value'\nC = \"x\"\n")
    env = {"A": "from-env"}
    load_dotenv(tmp_path / ".env", env)
    assert env == {"A": "from-env", "B": "quoted value", "C": "x"}


def test_find_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, base, cwd = tmp_path / "home", tmp_path / "base", tmp_path / "cwd"
    for d in (home, base, cwd):
        d.mkdir()
        (d / "osiris_connections.yaml").write_text("connections: {}\n")
    assert find_file(None, base, {"OSIRIS_HOME": str(home)}, cwd) == home / "osiris_connections.yaml"
    assert find_file(None, base, {}, cwd) == base / "osiris_connections.yaml"
    (base / "osiris_connections.yaml").unlink()
    assert find_file(None, base, {}, cwd) == cwd / "osiris_connections.yaml"
    assert find_file(str(home / "osiris_connections.yaml"), base, {}, cwd) == home / "osiris_connections.yaml"
    with pytest.raises(RunError) as e:
        find_file(str(tmp_path / "nope.yaml"), base, {}, cwd)
    assert e.value.code == "OSR-E310"


def test_secret_markers_resolve_from_connection_and_env() -> None:
    red = Redactor()
    conns = _conns(
        {"mysql": {"other": {"password": "other-pw-123"}, "main": {"default": True, "password": "conn-pw-456"}}}
    )
    config = {
        "password": {"$secret": {"source": "connection", "name": "password", "connection": "@mysql.default"}},
        "nested": [{"token": {"$secret": {"source": "env", "name": "API_TOKEN"}}}],
        "o": {"$secret": {"source": "connection", "name": "password", "connection": "@mysql.other"}},
    }
    out = resolve_secrets(
        config, None, {"API_TOKEN": "tok-789"}, red, lambda ref: conns.resolve("mysql", ref.split(".")[1])
    )
    assert out == {"password": "conn-pw-456", "nested": [{"token": "tok-789"}], "o": "other-pw-123"}
    assert red.text("a conn-pw-456 b tok-789 c other-pw-123") == "a *** b *** c ***"
    with pytest.raises(RunError) as e:
        resolve_secrets({"$secret": {"source": "env", "name": "MISSING"}}, None, {}, red)
    assert e.value.code == "OSR-E315"


SECRET = "s3cr3t-Pa55word!"
ENV_SECRET = "env-token-xyz-42"


def _secret_plan() -> dict[str, Any]:
    marker = {"$secret": {"source": "connection", "name": "password", "connection": "@test.default"}}
    return plan(
        step(
            "src",
            "test.extractor",
            {"batches": 3, "fail_at": 1, "token": marker},
            driver="rt_drivers:Numbers",
            connection={"family": "test", "alias": None},
        ),
        step("ok", "test.extractor", {"batches": 2}, driver="rt_drivers:Numbers"),
        step(
            "t",
            "test.processor",
            {"after": 0, "token": {"$secret": {"source": "env", "name": "MY_TOKEN"}}},
            ["ok"],
            driver="rt_drivers:Boom",
        ),
        step("w", "test.writer", {}, ["src"], driver="rt_drivers:Sink"),
        step("w2", "test.writer", {}, ["t"], driver="rt_drivers:Sink"),
    )


def _write_conns(folder: Path) -> None:
    (folder / "osiris_connections.yaml").write_text(
        "connections:\n  test:\n    main:\n      default: true\n      host: h\n      password: ${TEST_PW}\n"
    )
    (folder / ".env").write_text(f"TEST_PW={SECRET}\n")


def test_secrets_never_reach_the_run_directory_or_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_conns(tmp_path)
    reporter = Reporter("text")
    result = run_plan(
        _secret_plan(),
        RunOptions(base_dir=tmp_path, runs_dir=tmp_path / "runs", env={"MY_TOKEN": ENV_SECRET}, listeners=[reporter]),
    )
    assert not result.ok
    # both drivers put the secret in their error message; the redactor masked it
    assert "source broke at batch 1 (token ***)" in result.status["steps"]["src"]["error"]
    assert "password=***" in result.status["steps"]["t"]["error"]
    written = "".join(p.read_text(encoding="utf-8") for p in result.run_dir.rglob("*") if p.is_file())
    assert "$secret" in written  # the effective configs keep the markers
    captured = capsys.readouterr()
    for text in (written, captured.out, captured.err):
        assert SECRET not in text and ENV_SECRET not in text
    assert "[src] FAILED" in captured.err


def test_cli_run_masks_secrets_and_exits_1(tmp_path: Path) -> None:
    _write_conns(tmp_path)
    (tmp_path / "plan.json").write_text(json.dumps(_secret_plan()))
    env = {
        "PATH": "/usr/bin:/bin",
        "MY_TOKEN": ENV_SECRET,
        "PYTHONPATH": f"{ROOT}:{Path(__file__).parent}",
        "OSIRIS_DRIVER_MODULES": "rt_drivers",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "osiris.runtime", "plan.json", "--format", "json"],
        cwd=tmp_path,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    status = json.loads(proc.stdout)
    assert status["ok"] is False and status["failed_steps"] == ["src", "t"]
    assert status["steps"]["w"]["status"] == "skipped"
    assert SECRET not in proc.stdout + proc.stderr and ENV_SECRET not in proc.stdout + proc.stderr


def test_missing_connection_is_exit_2_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(_secret_plan()))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{Path(__file__).parent}"}
    proc = subprocess.run(
        [sys.executable, "-m", "osiris.runtime", "plan.json"],
        cwd=tmp_path,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "error[OSR-E310]" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_plan_secret_fields_decide_which_connection_fields_are_masked(tmp_path: Path) -> None:
    """``secret_fields`` (from the spec, carried in the plan) names the connection fields to mask, whatever their
    name; other fields (``region`` here) are not secrets and stay readable."""
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  test:\n    main:\n      default: true\n      client_cert_pass: c3rt-sEcR-77\n"
        "      region: eu-west-77\n"
    )

    def run(secret_fields: list[str] | None, runs: str) -> dict[str, Any]:
        src = step(
            "src",
            "test.extractor",
            {"batches": 2, "fail_at": 0, "token": "c3rt-sEcR-77 in eu-west-77"},
            driver="rt_drivers:Numbers",
            connection={"family": "test", "alias": None},
        )
        if secret_fields is not None:
            src["secret_fields"] = secret_fields
        sink = step("w", "test.writer", {}, ["src"], driver="rt_drivers:Sink")
        result = run_plan(plan(src, sink), RunOptions(base_dir=tmp_path, runs_dir=tmp_path / runs, env={}))
        written = "".join(p.read_text(encoding="utf-8") for p in result.run_dir.rglob("*") if p.is_file())
        return {"error": result.status["steps"]["src"]["error"], "written": written}

    masked = run(["client_cert_pass"], "runs")
    assert "(token *** in eu-west-77)" in masked["error"]
    assert "c3rt-sEcR-77" not in masked["written"] and "eu-west-77" in masked["written"]
    unmarked = run(None, "runs2")  # without the spec's word the name rule cannot know this field is secret
    assert "(token c3rt-sEcR-77 in eu-west-77)" in unmarked["error"]
