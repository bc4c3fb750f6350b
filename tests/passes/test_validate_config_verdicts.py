"""validate_config keeps verdicts of valid, secret-free configs across runs (spec_cache.Verdicts): a warm compile
validates nothing again and does not import jsonschema; secrets and errors are never kept."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from osiris.compile import compile_file
from osiris.ir.nodes import plain
from osiris.passes.validate_config import VERDICTS_FILE

pytestmark = pytest.mark.usefixtures("no_quick_verdicts")  # configs only jsonschema can judge


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(folder))
    yield folder


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = jsonschema.Draft202012Validator.iter_errors

    def counting(self: Any, instance: object, *args: Any) -> Any:
        if isinstance(instance, dict) and str(instance.get("path", "")).endswith(".csv"):  # a step config
            seen.append(instance)
        return real(self, instance, *args)

    monkeypatch.setattr(jsonschema.Draft202012Validator, "iter_errors", counting)
    return seen


def _write(tmp: Path, writers: list[dict[str, Any]]) -> Path:
    steps = [{"id": "r", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "none.csv"}}]
    steps += [
        {"id": f"w{i}", "component": "filesystem.csv_writer", "mode": "write", "config": c, "needs": ["r"]}
        for i, c in enumerate(writers)
    ]
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "v", "steps": steps}, sort_keys=False))
    return path


def _configs(path: Path) -> tuple[dict[str, Any], list[str]]:
    result = compile_file(str(path), until="validate-config")
    configs = {s.id: plain(s.config) for s in result.pipeline.steps} if result.pipeline else {}
    return configs, [d.code for d in result.diagnostics]


def test_warm_run_validates_nothing_and_agrees(tmp_path: Path, cache: Path, validations: list[object]) -> None:
    path = _write(tmp_path, [{"path": "out/a.csv"}, {"path": "out/b.csv", "delimiter": ";"}])
    cold = _configs(path)
    assert len(validations) == 3 and len(json.loads((cache / VERDICTS_FILE).read_text())) == 3
    validations.clear()
    assert _configs(path) == cold and validations == []


def test_errors_and_secret_looking_configs_are_never_kept(
    tmp_path: Path, cache: Path, validations: list[object]
) -> None:
    path = _write(
        tmp_path,
        [
            {"path": "out/a.csv", "delimiter": 5},  # invalid
            {"path": "postgresql://u:pw@db/x.csv"},  # secret-looking text (a redact_secrets error later)
        ],
    )
    first = _configs(path)
    assert first[1].count("OSR-E152") == 1
    stored = json.loads((cache / VERDICTS_FILE).read_text())
    assert len(stored) == 1  # only the extractor's config
    validations.clear()
    assert _configs(path) == first
    assert {"path": "out/a.csv", "delimiter": 5} in validations
    assert {"path": "postgresql://u:pw@db/x.csv"} in validations


def _imports_jsonschema(path: Path, patch: str = "") -> str:
    code = (
        f"import sys; {patch}from osiris.compile import compile_file; "
        f"r = compile_file({str(path)!r}); assert not r.failed, r.diagnostics; "
        "print('jsonschema' in sys.modules)"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_a_warm_check_does_not_import_jsonschema(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path, [{"path": "out/a.csv"}])
    patch = "from osiris.passes import quick_schema; quick_schema.verdict = lambda s, d: None; "
    assert [_imports_jsonschema(path, patch) for _ in "ab"] == ["True", "False"]


def test_a_new_plainly_valid_config_does_not_import_jsonschema(tmp_path: Path, cache: Path) -> None:
    """quick_schema judges it (a changed --param makes a config new every run); the first run checks the specs."""
    assert _imports_jsonschema(_write(tmp_path, [{"path": "out/a.csv"}])) == "True"
    assert _imports_jsonschema(_write(tmp_path, [{"path": "out/b.csv", "delimiter": ";"}])) == "False"
