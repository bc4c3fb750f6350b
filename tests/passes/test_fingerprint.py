"""What each fingerprint covers: a change to one input changes exactly the hashes that depend on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from osiris.backends.local import fingerprints
from osiris.backends.local.plan import build_plan
from osiris.compile import compile_file
from osiris.components.registry import default_registry

TEXT = """\
oml_version: "0.1.0"
name: fp
params:
  n: {default: 1}
steps:
  - id: src
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: q
    component: duckdb.processor
    mode: transform
    config: {query: "SELECT * FROM input_df LIMIT ${params.n}"}
"""


def _prints(tmp_path: Path, text: str, name: str = "p.yaml", **params: str) -> dict:  # type: ignore[type-arg]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = compile_file(str(path), params=params, env={})
    assert not result.failed, result.diagnostics
    assert result.ctx is not None
    assert result.pipeline is not None
    return fingerprints(result, build_plan(result.pipeline, result.ctx))  # what fingerprints.json holds


def _changed(a: dict, b: dict) -> set[str]:  # type: ignore[type-arg]
    return {k for k in a if a[k] != b[k]}


def test_hashes_are_hex_sha256(tmp_path: Path) -> None:
    prints = _prints(tmp_path, TEXT)
    flat = [v for v in prints.values() if isinstance(v, str)] + [
        h for v in prints.values() if isinstance(v, dict) for h in v.values()
    ]
    assert len(flat) == 10 and all(len(h) == 64 and int(h, 16) >= 0 for h in flat)


def test_each_input_moves_its_own_hashes(tmp_path: Path) -> None:
    base = _prints(tmp_path, TEXT)
    assert _changed(base, _prints(tmp_path, TEXT, name="other-name.yaml")) == set()  # the file's name is not hashed
    assert _changed(base, _prints(tmp_path, "# comment\n" + TEXT)) == {"source"}
    by_param = _prints(tmp_path, TEXT, n="2")
    assert _changed(base, by_param) == {"params", "steps", "plan"}
    assert base["steps"]["src"] == by_param["steps"]["src"] and base["steps"]["q"] != by_param["steps"]["q"]


def test_compiler_version_and_specs_are_covered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _prints(tmp_path, TEXT)
    monkeypatch.setattr("osiris.passes.fingerprint.__version__", "9.9.9")
    monkeypatch.setattr("osiris.backends.local.plan.__version__", "9.9.9")
    assert _changed(base, _prints(tmp_path, TEXT)) == {"compiler", "plan"}
    monkeypatch.undo()
    spec = default_registry().get("duckdb.processor")
    assert spec is not None
    monkeypatch.setitem(spec.raw, "description", "changed")
    moved = _prints(tmp_path, TEXT)
    assert _changed(base, moved) == {"components", "registry", "plan"}
    assert moved["components"]["filesystem.csv_extractor"] == base["components"]["filesystem.csv_extractor"]
