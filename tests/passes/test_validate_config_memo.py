"""validate_config validates a repeated (component, config) once when it is valid; every invalid copy is still
reported at its own place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from osiris.compile import compile_file

pytestmark = pytest.mark.usefixtures("no_quick_verdicts")  # configs only jsonschema can judge


def _write(tmp: Path, configs: list[dict[str, Any]]) -> Path:
    steps = [
        {"id": f"w{i}", "component": "filesystem.csv_writer", "mode": "write", "config": c, "needs": ["r"]}
        for i, c in enumerate(configs)
    ]
    read = {"id": "r", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "nowhere.csv"}}
    path = tmp / "p.yaml"
    doc = {"oml_version": "0.1.0", "name": "m", "steps": [read, *steps]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = jsonschema.Draft202012Validator.iter_errors

    def counting(self: Any, instance: object, *args: Any) -> Any:
        seen.append(instance)
        return real(self, instance, *args)

    monkeypatch.setattr(jsonschema.Draft202012Validator, "iter_errors", counting)
    return seen


def test_repeated_valid_configs_are_validated_once(tmp_path: Path, validations: list[object]) -> None:
    path = _write(tmp_path, [{"path": "out/a.csv"} for _ in range(5)] + [{"path": "out/b.csv"}])
    result = compile_file(str(path), until="validate-config")
    assert not result.failed
    writer_checks = [v for v in validations if isinstance(v, dict) and "path" in v and v["path"].startswith("out/")]
    assert writer_checks == [{"path": "out/a.csv"}, {"path": "out/b.csv"}]


def test_every_invalid_copy_is_reported_where_it_is(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"path": "out/a.csv", "delimiter": 5} for _ in range(3)])
    result = compile_file(str(path), until="validate-config")
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code for d in errors] == ["OSR-E152"] * 3
    assert len({d.span for d in errors}) == 3
