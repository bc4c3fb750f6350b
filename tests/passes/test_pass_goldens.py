"""Golden files per pass: tests/fixtures/passes/<pass>/<case>.yaml (+ optional <case>.args.yaml with ``params``,
``env``, ``profile``) is compiled up to that pass; a pass-specific view of the result and the rendered
diagnostics must equal <case>.expected.json. ``pytest tests/passes/test_pass_goldens.py --update-goldens``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from osiris.compile import CompileResult, compile_file
from osiris.ir import nodes
from osiris.passes.collect_requirements import split_requirement
from osiris.render import render_plain

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "passes"


def _resolve_params(result: CompileResult) -> Any:
    assert result.pipeline is not None and result.ctx is not None
    return {
        "configs": {s.id: nodes.data(s.config) for s in result.pipeline.steps},
        "product": attrs.asdict(result.ctx.products.resolve_params) if result.ctx.products.resolve_params else None,
    }


def _build_dag(result: CompileResult) -> Any:
    assert result.pipeline is not None
    return {
        "order": list(result.pipeline.order),
        "steps": {
            s.id: {"needs": list(s.needs or ()), "inputs": [f"{i.name} <- {i.step}" for i in s.inputs]}
            for s in result.pipeline.steps
        },
    }


def _collect_requirements(result: CompileResult) -> Any:
    assert result.ctx is not None
    product = result.ctx.products.collect_requirements
    assert product is not None
    names = lambda pins: [p.split("==")[0] for p in pins]  # noqa: E731 - versions follow the lock, names are the point
    return {
        "packages": names(product.packages),
        "by_component": {c: names(p) for c, p in product.by_component.items()},
        "roots_parse": [list(split_requirement(r)) for r in ("psycopg[binary]>=3", "PyYAML")],
    }


VIEWS: dict[str, Callable[[CompileResult], Any]] = {
    "resolve_params": _resolve_params,
    "build_dag": _build_dag,
    "collect_requirements": _collect_requirements,
}


def cases() -> list[Path]:
    return sorted(p for name in VIEWS for p in (FIXTURES / name).glob("*.yaml") if not p.name.endswith(".args.yaml"))


def test_every_pass_has_goldens() -> None:
    assert {p.parent.name for p in cases()} == set(VIEWS)


@pytest.mark.parametrize("path", cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_pass_golden(path: Path, update_goldens: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    args_file = path.with_name(path.stem + ".args.yaml")
    args = yaml.safe_load(args_file.read_text(encoding="utf-8")) if args_file.exists() else {}
    monkeypatch.chdir(path.parent)
    pass_name = path.parent.name
    result = compile_file(
        path.name,
        params=args.get("params"),
        profile=args.get("profile"),
        env=args.get("env", {}),
        until=pass_name.replace("_", "-"),
    )
    got: dict[str, Any] = {"diagnostics": render_plain(result.diagnostics, result.sources).splitlines()}
    if not result.failed:
        got["result"] = VIEWS[pass_name](result)
    text = json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    golden = path.with_name(path.stem + ".expected.json")
    if update_goldens:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden.name}: run with --update-goldens"
    assert text == golden.read_text(encoding="utf-8")
