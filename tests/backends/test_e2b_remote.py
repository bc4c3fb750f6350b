"""The E2B adapter against a stand-in recording every SDK call, and a live run when E2B_API_KEY is set."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import e2b
import pytest
from e2b_support import EXAMPLES, bundle_of, events

from osiris.backends.e2b.host import default_timeout, prepare
from osiris.backends.e2b.launch import bundle_plan
from osiris.backends.e2b.remote import WORK, E2BRunner
from osiris.runtime.errors import RunError

# What running an example leaves behind; copies of an example must start clean.
EXAMPLE_OUTPUTS = shutil.ignore_patterns("output", "out", "runs", "build")

SECRET = "e2b-test-secret-93f1"


class Recorder:
    """Stands in for ``e2b.Sandbox``: records calls; the entry command replays ``script`` on on_stdout."""

    calls: list[tuple[Any, ...]]

    def __init__(self, script: list[str], exit_code: int = 0, fail: str | None = None):
        self.script, self.exit_code, self.fail = script, exit_code, fail
        self.calls = []
        self.written: dict[str, bytes] = {}
        self.files = self
        self.commands = self

    def create(self, **kw: Any) -> Recorder:
        self.calls.append(("create", kw))
        if self.fail == "create":
            raise e2b.AuthenticationException("bad key")
        return self

    def write(self, path: str, data: bytes | str) -> None:
        self.calls.append(("write", path))
        if self.fail == "upload":
            raise e2b.SandboxNotFoundException("sandbox abc not found")
        self.written[path] = data.encode() if isinstance(data, str) else data

    def read(self, path: str, format: str = "text") -> bytearray:
        self.calls.append(("read", path))
        if path.endswith("output/revenue_by_region.csv"):
            return bytearray(b"region,items\nnorth,3\n")
        if path.endswith("status.json"):
            return bytearray(json.dumps({"ok": True, "note": SECRET}).encode())
        raise e2b.FileNotFoundException(path)

    def set_timeout(self, timeout: int) -> None:
        self.calls.append(("set_timeout", timeout))

    def run(self, cmd: str, **kw: Any) -> Any:
        self.calls.append(("run", cmd, kw))
        if cmd.startswith("cd ") and "find" in cmd:
            return e2b.CommandResult(stdout="runs/quickstart/r1/status.json\n", stderr="", exit_code=0, error=None)
        if "entrypoint.py" not in cmd:
            return e2b.CommandResult(stdout="", stderr="", exit_code=0, error=None)
        if self.fail == "timeout":
            raise e2b.TimeoutException("context deadline exceeded")
        for chunk in self.script:
            kw["on_stdout"](chunk)
        kw["on_stderr"](f"driver said {SECRET}\n")
        if self.exit_code:
            raise e2b.CommandExitException(stderr="boom", stdout="", exit_code=self.exit_code, error=None)
        return e2b.CommandResult(stdout="", stderr="", exit_code=0, error=None)

    def kill(self) -> bool:
        self.calls.append(("kill",))
        return True


def _event(kind: str, **data: Any) -> str:
    return json.dumps({"ts": 1.0, "event": kind, "step": None, **data}) + "\n"


SCRIPT = [
    _event("bundle_verified", files=40)[:20],  # chunks need not end at line ends
    _event("bundle_verified", files=40)[20:] + _event("run_start", run_id="r1", pipeline="quickstart"),
    json.dumps({"ts": 2.0, "event": "step_complete", "step": "read-sales", "rows_out": 8, "error": f"saw {SECRET}"})
    + "\n",
    _event("run_complete", ok=True),
]


@pytest.fixture
def quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    shutil.copytree(EXAMPLES / "quickstart", tmp_path / "p", ignore=EXAMPLE_OUTPUTS)
    (tmp_path / "p" / ".env").write_text(f"QS_TOKEN={SECRET}\n")
    return tmp_path / "p", bundle_of(tmp_path / "p" / "pipeline.yaml", tmp_path / "q.tar.gz")


def _runner(rec: Recorder, **kw: Any) -> E2BRunner:
    return E2BRunner(env={"E2B_API_KEY": "e2b_key_123456"}, sandbox_class=rec, template="osiris-py311", **kw)


def test_records_create_uploads_run_and_kill(tmp_path: Path, quickstart: tuple[Path, Path]) -> None:
    folder, bundle = quickstart
    host = prepare(bundle_plan(bundle), folder, None, {})
    host.env["OSIRIS_SECRET_X"] = SECRET  # as if a connection had a password
    host.redactor.add(SECRET)
    rec = Recorder(SCRIPT)
    result = _runner(rec).run(bundle, host, tmp_path / "runs")
    assert result.exit_code == 0
    create = rec.calls[0]
    assert create == ("create", {"template": "osiris-py311", "timeout": 600, "api_key": "e2b_key_123456"})
    assert "envs" not in create[1]  # never sandbox-wide
    assert rec.written[f"{WORK}/bundle.tar.gz"] == bundle.read_bytes()
    assert rec.written[f"{WORK}/base/data/sales.csv"] == (folder / "data" / "sales.csv").read_bytes()
    runs = [c for c in rec.calls if c[0] == "run"]
    assert "tar -xzf" in runs[0][1] and "python3 -m venv" in runs[0][1]
    entry = next(c for c in runs if "entrypoint.py" in c[1])
    assert entry[2]["envs"] == {"OSIRIS_SECRET_X": SECRET}
    assert entry[2]["timeout"] == default_timeout(host.plan) and entry[2]["cwd"] == WORK
    assert ("set_timeout", default_timeout(host.plan) + 300) in rec.calls
    assert rec.calls.index(("set_timeout", default_timeout(host.plan) + 300)) < rec.calls.index(entry)
    assert rec.calls[-1] == ("kill",) and rec.calls.count(("kill",)) == 1
    assert [e["event"] for e in events(result.run_dir)] == [
        "bundle_verified",
        "run_start",
        "step_complete",
        "run_complete",
    ]
    assert (folder / "output" / "revenue_by_region.csv").read_bytes() == b"region,items\nnorth,3\n"
    assert json.loads((result.run_dir / "status.json").read_text())["note"] == "***"
    for path in result.run_dir.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


def test_non_zero_exit_is_reported_and_sandbox_killed(tmp_path: Path, quickstart: tuple[Path, Path]) -> None:
    folder, bundle = quickstart
    script = [_event("bundle_error", code="OSR-E400", exit_code=10, message="bundle refused: plan.json: checksum")]
    rec = Recorder(script, exit_code=10)
    result = _runner(rec).run(bundle, prepare(bundle_plan(bundle), folder, None, {}), tmp_path / "runs")
    assert result.exit_code == 10 and result.message == "bundle refused: plan.json: checksum"
    assert rec.calls[-1] == ("kill",)


@pytest.mark.parametrize(("fail", "code"), [("create", "OSR-E406"), ("upload", "OSR-E406"), ("timeout", "OSR-E407")])
def test_sdk_failures_become_clear_errors_and_kill_runs(
    tmp_path: Path, quickstart: tuple[Path, Path], fail: str, code: str
) -> None:
    folder, bundle = quickstart
    rec = Recorder(SCRIPT, fail=fail)
    with pytest.raises(RunError) as err:
        _runner(rec).run(bundle, prepare(bundle_plan(bundle), folder, None, {}), tmp_path / "runs")
    assert err.value.code == code and "e2b_key_123456" not in err.value.message
    assert rec.calls.count(("kill",)) == (0 if fail == "create" else 1)


def test_without_api_key_nothing_is_created(tmp_path: Path, quickstart: tuple[Path, Path]) -> None:
    folder, bundle = quickstart
    rec = Recorder(SCRIPT)
    with pytest.raises(RunError, match="E2B_API_KEY is not set") as err:
        E2BRunner(env={}, sandbox_class=rec).run(bundle, prepare(bundle_plan(bundle), folder, None, {}), tmp_path)
    assert err.value.code == "OSR-E405" and rec.calls == []


def test_connections_reach_the_sandbox_without_secret_values(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "movies", tmp_path / "m", ignore=EXAMPLE_OUTPUTS)
    bundle = bundle_of(tmp_path / "m" / "pipeline.yaml", tmp_path / "m.tar.gz")
    host = prepare(bundle_plan(bundle), tmp_path / "m", None, {"PGPASSWORD": SECRET, "MYSQL_PASSWORD": "my-pw-77"})
    assert host.connections_yaml is not None
    assert SECRET not in host.connections_yaml and "my-pw-77" not in host.connections_yaml
    assert sorted(host.env.values()) == sorted([SECRET, "my-pw-77"])
    assert host.redactor.text(f"x {SECRET} y") == "x *** y"
    for var in host.env:
        assert "${" + var + "}" in host.connections_yaml


@pytest.mark.skipif(not os.environ.get("E2B_API_KEY"), reason="live E2B run needs E2B_API_KEY")
def test_live_e2b_quickstart(tmp_path: Path, quickstart: tuple[Path, Path]) -> None:
    folder, bundle = quickstart
    runner = E2BRunner(env=dict(os.environ))
    result = runner.run(bundle, prepare(bundle_plan(bundle), folder, None, dict(os.environ)), tmp_path / "runs")
    assert result.exit_code == 0, result.message
    assert (folder / "output" / "revenue_by_region.csv").is_file()
    assert next(e for e in events(result.run_dir) if e["event"] == "imports_checked")["missing"] == []
