"""The e2b bundle: byte-reproducible, only what the run needs, checksums and driver fingerprints enforced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2b_support import EXAMPLES, ROOT, bundle_of, members, repack

from osiris.backends.e2b import entrypoint
from osiris.backends.e2b.bundle import BundleBuildError, code_closure
from osiris.backends.e2b.tarball import ArchiveError, extract_tar_gz, read_tar_gz, write_tar_gz
from osiris.passes.collect_requirements import load_lock, normalize

# What running an example leaves behind; copies of an example must start clean.
EXAMPLE_OUTPUTS = shutil.ignore_patterns("output", "out", "runs", "build")

QUICKSTART = EXAMPLES / "quickstart" / "pipeline.yaml"
MOVIES = EXAMPLES / "movies" / "pipeline.yaml"


def _requirements(files: dict[str, bytes]) -> list[str]:
    text = files["requirements.txt"].decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_emit_twice_gives_identical_bytes_from_any_folder(tmp_path: Path) -> None:
    env = {**os.environ, "TZ": "Pacific/Kiritimati", "PYTHONHASHSEED": "123", "LC_ALL": "C"}
    outs = []
    for i, cwd in enumerate((tmp_path / "a", tmp_path / "b" / "deeper")):
        cwd.mkdir(parents=True)
        shutil.copytree(EXAMPLES / "quickstart", cwd / f"copy{i}", ignore=EXAMPLE_OUTPUTS)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from osiris.cli import entry; entry()",
                "emit",
                f"copy{i}/pipeline.yaml",
                "-o",
                "out",
            ],
            cwd=cwd,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append((cwd / "out" / "quickstart.bundle.tar.gz").read_bytes())
    assert outs[0] == outs[1]
    data = outs[0]
    assert data[3] == 0 and data[4:8] == b"\0\0\0\0"  # gzip: no file name, no time
    for info in members(data).values():
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        assert info.mode == (0o755 if info.name == "entrypoint.py" else 0o644)
    assert list(members(data)) == sorted(members(data))


def test_tar_writer_is_a_function_of_its_input() -> None:
    files = {"b/x.txt": b"x", "a.txt": b"a"}
    assert write_tar_gz(files) == write_tar_gz(dict(reversed(files.items())))
    assert read_tar_gz(write_tar_gz(files)) == files
    with pytest.raises(ArchiveError):
        write_tar_gz({"../evil": b""})
    with pytest.raises(ArchiveError):
        read_tar_gz(b"not a tarball")


def test_bundle_carries_runtime_and_used_drivers_only(tmp_path: Path) -> None:
    files = read_tar_gz(bundle_of(QUICKSTART, tmp_path / "q.tar.gz").read_bytes())
    names = set(files)
    for compiler in ("osiris/frontend/", "osiris/ir/", "osiris/passes/", "osiris/backends/", "osiris/cli/"):
        assert not any(n.startswith(compiler) for n in names), compiler
    assert not {"osiris/compile.py", "osiris/plan.py", "osiris/components/registry.py"} & names
    assert {
        "entrypoint.py",
        "plan.json",
        "requirements.txt",
        "fingerprints.json",
        "SHA256SUMS",
        "drivers.json",
        "osiris/runtime/engine.py",
        "osiris/dialects/base.py",
        "steps/read-sales.json",
    } <= names
    drivers = {n.split("/")[2] for n in names if n.startswith("osiris/components/") and n.endswith("/driver.py")}
    # duckdb_extractor comes along because duckdb_writer imports it; no database driver does
    assert drivers == {
        "filesystem_csv_extractor",
        "filesystem_csv_writer",
        "duckdb_processor",
        "duckdb_writer",
        "duckdb_extractor",
    }
    assert sorted(json.loads(files["drivers.json"])) == sorted(json.loads(files["plan.json"])["registry"])


def test_csv_only_requirements_exclude_database_drivers_and_are_exact_lock_pins(tmp_path: Path) -> None:
    lock = load_lock()
    quick = _requirements(read_tar_gz(bundle_of(QUICKSTART, tmp_path / "q.tar.gz").read_bytes()))
    movies = _requirements(read_tar_gz(bundle_of(MOVIES, tmp_path / "m.tar.gz").read_bytes()))
    quick_names = {normalize(r.split("==")[0].split("[")[0]) for r in quick}
    assert not quick_names & {"pymysql", "psycopg", "psycopg-binary", "typing-extensions"}
    assert {"duckdb", "pyarrow", "pyyaml", "rich", "attrs"} <= quick_names
    assert {"pymysql", "psycopg", "psycopg-binary"} <= {normalize(r.split("==")[0].split("[")[0]) for r in movies}
    for req in quick + movies:
        name, version = req.split("==")
        assert lock.pins[normalize(name.split("[")[0])][1] == version


def _unpacked(tmp_path: Path, pipeline: Path = QUICKSTART) -> Path:
    root = tmp_path / "bundle"
    extract_tar_gz(bundle_of(pipeline, tmp_path / "b.tar.gz"), root)
    return root


def test_checksums_verify_and_one_changed_byte_is_refused(tmp_path: Path) -> None:
    root = _unpacked(tmp_path)
    assert entrypoint.verify_checksums(root) == len(list(p for p in root.rglob("*") if p.is_file())) - 1
    engine = root / "osiris" / "runtime" / "engine.py"
    data = bytearray(engine.read_bytes())
    data[100] ^= 0x01
    engine.write_bytes(bytes(data))
    with pytest.raises(entrypoint.BundleError) as err:
        entrypoint.verify_checksums(root)
    assert err.value.exit_code == entrypoint.EXIT_TAMPERED == 10
    assert "osiris/runtime/engine.py: checksum mismatch" in str(err.value)


@pytest.mark.parametrize("change", ["extra", "missing"])
def test_unlisted_or_missing_files_are_refused(tmp_path: Path, change: str) -> None:
    root = _unpacked(tmp_path)
    if change == "extra":
        (root / "osiris" / "runtime" / "sitecustomize.py").write_text("print('hi')\n")
    else:
        (root / "plan.json").unlink()
    with pytest.raises(entrypoint.BundleError, match=r"not listed|missing") as err:
        entrypoint.verify_checksums(root)
    assert err.value.code == "OSR-E400"


def _resum(root: Path) -> None:
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    files.pop("SHA256SUMS")
    (root / "SHA256SUMS").write_text(entrypoint.format_sums(files))


def test_drivers_must_match_the_plan_registry_fingerprint(tmp_path: Path) -> None:
    root = _unpacked(tmp_path)
    plan = json.loads((root / "plan.json").read_text())
    assert entrypoint.verify_drivers(root, plan) == sorted(plan["registry"])
    driver = root / "osiris" / "components" / "duckdb_writer" / "driver.py"
    driver.write_text(driver.read_text() + "\n# swapped\n")
    _resum(root)  # a consistent checksum list does not help: the driver fingerprint differs
    entrypoint.verify_checksums(root)
    with pytest.raises(entrypoint.BundleError, match=r"duckdb_writer/driver\.py does not match") as err:
        entrypoint.verify_drivers(root, plan)
    assert err.value.exit_code == entrypoint.EXIT_FINGERPRINT


def test_a_spec_from_another_build_is_refused(tmp_path: Path) -> None:
    root = _unpacked(tmp_path)
    spec = root / "specs" / "duckdb.writer.json"
    data = json.loads(spec.read_text())
    data["version"] = "9.9.9"
    spec.write_text(json.dumps(data))
    plan = json.loads((root / "plan.json").read_text())
    with pytest.raises(entrypoint.BundleError, match=r"duckdb\.writer: the carried spec does not match"):
        entrypoint.verify_drivers(root, plan)


def test_missing_pins_and_imports_are_reported(tmp_path: Path) -> None:
    assert entrypoint.missing_pins([("attrs", "", "0.0.1"), ("no-such-dist-xyz", "", "1.0")]) == [
        "attrs==0.0.1",
        "no-such-dist-xyz==1.0",
    ]
    root = _unpacked(tmp_path)
    plan = json.loads((root / "plan.json").read_text())
    plan["steps"][0]["driver"] = "osiris.components.no_such_component.driver:Driver"
    missing = entrypoint.check_imports(root, plan)
    assert any(m.startswith("osiris.components.no_such_component.driver:Driver (ModuleNotFoundError") for m in missing)


def test_a_driver_importing_the_compiler_cannot_be_bundled() -> None:
    with pytest.raises(BundleBuildError, match=r"osiris\.passes\.base"):
        code_closure(["osiris.passes.base"])


def test_no_secret_in_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Zq7-bundle-secret-4411"
    monkeypatch.setenv("PGPASSWORD", secret)
    monkeypatch.setenv("MYSQL_PASSWORD", secret)
    data = bundle_of(MOVIES, tmp_path / "m.tar.gz").read_bytes()
    files = read_tar_gz(data)
    assert all(secret.encode() not in body for body in files.values())
    assert secret.encode() not in data


def test_tampered_repack_keeps_the_tamper_visible(tmp_path: Path) -> None:
    files = read_tar_gz(bundle_of(QUICKSTART, tmp_path / "q.tar.gz").read_bytes())
    files["plan.json"] = files["plan.json"].replace(b"revenue_by_region", b"revenue_by_regioX", 1)
    (tmp_path / "t.tar.gz").write_bytes(repack(files))
    extract_tar_gz(tmp_path / "t.tar.gz", tmp_path / "t")
    with pytest.raises(entrypoint.BundleError, match=r"plan\.json: checksum mismatch"):
        entrypoint.verify_checksums(tmp_path / "t")
