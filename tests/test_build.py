"""``osirisc build`` and the local backend: the build directory's contents and its byte-for-byte determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris.backends import BUILTIN, BackendError, get_backend, loaders
from osiris.canonical import dumps_file, sha256
from osiris.cli import main
from osiris.compile import compile_file
from osiris.runtime.plan import validate_plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fan_in_join.yaml"

PIPELINE = """\
oml_version: "0.1.0"
name: demo
params:
  n: 2
steps:
  - id: src
    component: filesystem.csv_extractor
    mode: read
    config:
{src}
  - id: agg.1
    component: duckdb.processor
    mode: transform
    config:
      query: "SELECT * FROM input_df LIMIT ${{params.n}}"
  - id: out
    component: filesystem.csv_writer
    mode: write
    config:
      path: out/result.csv
"""
SRC = {"path": "data/in.csv", "delimiter": ";", "header": True, "chunk_size": 1000}


def _write_pipeline(folder: Path, order: list[str] | None = None, comment: str = "") -> Path:
    keys = order or list(SRC)
    lines = "\n".join(f"      {k}: {json.dumps(SRC[k])}" for k in keys)
    path = folder / "p.yaml"
    path.write_text(comment + PIPELINE.format(src=lines), encoding="utf-8")
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_directory_contents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_pipeline(tmp_path)
    out = tmp_path / "out"
    assert main(["build", str(src), "-o", str(out), "--param", "n=5"]) == 0
    summary = capsys.readouterr().out
    assert "built 'demo'" in summary and "1. src" in summary and "3. out" in summary
    files = _tree(out)
    assert sorted(files) == [
        "fingerprints.json",
        "plan.json",
        "requirements.txt",
        "steps/agg.1.json",
        "steps/out.json",
        "steps/src.json",
    ]
    for name, data in files.items():  # canonical JSON, trailing newline, no absolute path
        if name.endswith(".json"):
            assert data.decode() == dumps_file(json.loads(data))
        assert str(tmp_path).encode() not in data
    plan = json.loads(files["plan.json"])
    validate_plan(plan)  # the runtime's own loader accepts it
    assert [s["id"] for s in plan["steps"]] == ["src", "agg.1", "out"]
    assert plan["params"] == {"n": 5}
    assert plan["steps"][1]["config"]["query"] == "SELECT * FROM input_df LIMIT 5"
    assert plan["steps"][1]["inputs"] == [{"step": "src", "name": "df_src"}, {"step": "src", "name": "input_df"}]
    for step in plan["steps"]:
        assert json.loads(files[f"steps/{step['id']}.json"]) == step["config"]
    prints = json.loads(files["fingerprints.json"])
    assert prints["plan"] == sha256(plan)
    assert set(prints["steps"]) == {"src", "agg.1", "out"}
    reqs = files["requirements.txt"].decode().splitlines()[1:]
    assert f"pyarrow=={metadata.version('pyarrow')}" in reqs and f"duckdb=={metadata.version('duckdb')}" in reqs
    assert plan["registry"]["duckdb.processor"]["packages"] == sorted(
        [f"duckdb=={metadata.version('duckdb')}", f"pyarrow=={metadata.version('pyarrow')}"]
    )


def test_build_json_default_out_dir_and_stale_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_pipeline(tmp_path)
    stale = tmp_path / "build" / "demo" / "steps" / "gone.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    assert main(["build", "p.yaml", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["out_dir"] == "build/demo" and [s["id"] for s in data["steps"]] == ["src", "agg.1", "out"]
    assert "steps/src.json" in data["files"] and not stale.exists()


def test_build_with_errors_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_pipeline(tmp_path)
    src.write_text(src.read_text().replace("${params.n}", "${params.m}"))
    assert main(["build", str(src), "-o", str(tmp_path / "out")]) == 2
    assert "OSR-E100" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["build", str(src), "--backend", "nope"]) == 2
    assert main(["build", str(src), "--print-ir-after", "no_such_pass"]) == 2


def test_print_ir_after(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_pipeline(tmp_path)
    assert main(["check", str(src), "--print-ir-after", "build_dag"]) == 0
    ir = json.loads(capsys.readouterr().out)
    assert ir["pipeline"]["order"] == ["src", "agg.1", "out"]
    assert main(["check", str(src), "--print-ir-after", "resolve-params"]) == 0
    ir = json.loads(capsys.readouterr().out)
    assert "order" not in ir["pipeline"]  # printed before build_dag ran


def test_byte_identical_across_cwd_path_env(tmp_path: Path) -> None:
    """Same inputs, different cwd / absolute vs relative path / TZ / locale / hash seed -> identical bytes."""
    runs = [
        (ROOT, str(EXAMPLE.relative_to(ROOT)), {"TZ": "UTC", "PYTHONHASHSEED": "0", "LC_ALL": "C"}),
        (tmp_path, str(EXAMPLE), {"TZ": "Asia/Kathmandu", "PYTHONHASHSEED": "12345", "LC_ALL": "C.UTF-8"}),
        (EXAMPLE.parent, EXAMPLE.name, {"TZ": "America/St_Johns", "PYTHONHASHSEED": "random", "LANG": "de_DE.UTF-8"}),
    ]
    trees = []
    for i, (cwd, path, extra) in enumerate(runs):
        out = tmp_path / f"out{i}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_PARAM_")} | extra
        proc = subprocess.run(
            [sys.executable, "-c", "from osiris.cli import entry; entry()", "build", path, "-o", str(out)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        trees.append(_tree(out))
    assert trees[0] == trees[1] == trees[2]
    assert {"plan.json", "ddl.sql", "requirements.txt", "fingerprints.json"} <= set(trees[0])


@given(
    st.permutations(list(SRC)), st.sampled_from(["", "# a comment\n", "\n\n"]), st.sampled_from(["UTC", "Asia/Tokyo"])
)
def test_plan_is_a_function_of_meaning(order: list[str], comment: str, tz: str) -> None:
    """Config key order, comments and blank lines change the source hash only; the plan bytes stay the same."""
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        _compare_builds(order, comment)
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


def _compare_builds(order: list[str], comment: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        base, other = Path(d) / "a", Path(d) / "b"
        base.mkdir(), other.mkdir()
        r1 = compile_file(str(_write_pipeline(base)), env={})
        r2 = compile_file(str(_write_pipeline(other, order, comment)), env={})
        backend = get_backend("local")
        backend.emit(r1, base / "out")
        backend.emit(r2, other / "out")
        t1, t2 = _tree(base / "out"), _tree(other / "out")
        p1, p2 = json.loads(t1.pop("fingerprints.json")), json.loads(t2.pop("fingerprints.json"))
        assert t1 == t2
        assert (p1["source"] == p2["source"]) == (order == list(SRC) and comment == "")
        assert {k: v for k, v in p1.items() if k != "source"} == {k: v for k, v in p2.items() if k != "source"}


def test_backend_registry() -> None:
    assert get_backend("local").name == "local"
    with pytest.raises(BackendError, match="unknown backend"):
        get_backend("nope")
    clash = metadata.EntryPoint(name="local", value="somepkg.backend:Backend", group="osiris.backends")
    with pytest.raises(BackendError, match="clashes"):
        loaders([clash])
    extra = metadata.EntryPoint(name="zz", value="osiris.backends.local:LocalBackend", group="osiris.backends")
    assert list(loaders([extra])) == sorted([*BUILTIN, "zz"])
