"""Golden tests for bind_components, validate_config and redact_secrets.

Each tests/fixtures/passes/<pass>/<name>.yaml is compiled up to that pass; <name>.expected holds the rendered
diagnostics followed by the steps' configs (plain JSON) after the pass. ``--update-goldens`` rewrites them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris.compile import compile_file
from osiris.ir.nodes import plain
from osiris.render import render_json, render_plain

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "passes"
PASSES = ("bind_components", "validate_config", "redact_secrets")
CASES = [(p, f) for p in PASSES for f in sorted((FIXTURES / p).glob("*.yaml"))]
SECRET_MARK = "Sup3rS3cret"


def render_case(pass_name: str, path: Path) -> tuple[str, object]:
    result = compile_file(path.name, env={}, until=pass_name.replace("_", "-"))
    out = render_plain(result.diagnostics, result.sources)
    configs = {}
    if not result.failed and result.pipeline is not None:
        configs = {s.id: plain(s.config) for s in result.pipeline.steps}
        out += json.dumps(configs, indent=2, sort_keys=True) + "\n"
    return out, result


@pytest.mark.parametrize(("pass_name", "path"), CASES, ids=lambda v: v if isinstance(v, str) else v.stem)
def test_pass_golden(pass_name: str, path: Path, update_goldens: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    rendered, result = render_case(pass_name, path)
    codes = {d.code for d in result.diagnostics}  # type: ignore[attr-defined]
    expected_code = path.stem.split("-")[0] + "-" + path.stem.split("-")[1] if path.stem.startswith("OSR-") else None
    if expected_code:
        assert expected_code in codes, rendered
    else:
        assert not result.failed, rendered  # type: ignore[attr-defined]
    golden = path.with_suffix(".expected")
    if update_goldens:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted((FIXTURES / "redact_secrets").glob("OSR-*.yaml")), ids=lambda p: p.stem)
def test_secrets_never_reach_any_rendering(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    assert SECRET_MARK in path.read_text(encoding="utf-8")
    result = compile_file(path.name, env={})
    assert result.failed
    assert all(d.redact for d in result.diagnostics if d.code.startswith("OSR-E18"))
    assert SECRET_MARK not in render_plain(result.diagnostics, result.sources)
    assert SECRET_MARK not in render_json(result.diagnostics)
    assert all(SECRET_MARK not in d.message and not any(SECRET_MARK in n for n in d.notes) for d in result.diagnostics)
