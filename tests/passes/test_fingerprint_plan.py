"""The backend hashes the plan it writes: fingerprints.json's ``plan`` is the sha256 of plan.json's data, and the
passes' products are frozen and typed (the manager merges one per pass)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from osiris.backends.local import LocalBackend
from osiris.backends.local.plan import build_plan
from osiris.canonical import sha256
from osiris.cli import main
from osiris.compile import compile_file
from osiris.passes.base import Fingerprints, Params, Products, Requirements, Schemas

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def test_fingerprints_hash_the_written_plan(tmp_path: Path) -> None:
    for name in ("csv_to_csv.yaml", "fan_in_join.yaml", "mysql_to_supabase.yaml"):
        result = compile_file(str(EXAMPLES / name), env={"MYSQL_PASSWORD": "x", "SUPABASE_PASSWORD": "y"})
        assert result.pipeline is not None and result.ctx is not None, name
        out = tmp_path / name
        LocalBackend().emit(result, out)
        plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
        prints = json.loads((out / "fingerprints.json").read_text(encoding="utf-8"))
        assert prints["plan"] == sha256(plan), name
        assert result.ctx.products.fingerprint is not None
        assert {**result.ctx.products.fingerprint.hashes, "plan": prints["plan"]} == prints, name


def test_every_pass_product_is_typed_and_frozen() -> None:
    result = compile_file(str(EXAMPLES / "csv_to_csv.yaml"), env={})
    assert result.ctx is not None
    products = result.ctx.products
    assert isinstance(products.resolve_params, Params)
    assert isinstance(products.infer_schemas, Schemas)
    assert isinstance(products.collect_requirements, Requirements)
    assert isinstance(products.fingerprint, Fingerprints)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        products.fingerprint = None  # type: ignore[misc]
    assert Products().merged("bind-components", None) == Products()  # a pass without a product changes nothing
    with pytest.raises(TypeError):
        Products().merged("no-such-pass", Params({}, {}, None))


@pytest.mark.parametrize("backend", ["local", "e2b"])
def test_build_reports_the_hash_of_the_plan(backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = EXAMPLES / "csv_to_csv.yaml"
    assert main(["build", str(source), "--backend", backend, "-o", str(tmp_path / "out"), "--format", "json"]) == 0
    reported = json.loads(capsys.readouterr().out)["plan_sha256"]
    result = compile_file(str(source), env={})
    assert result.pipeline is not None and result.ctx is not None
    assert reported == sha256(build_plan(result.pipeline, result.ctx))
