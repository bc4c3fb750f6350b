"""The fingerprint pass keeps the plan it hashed (products["plan"]); backends emit it instead of building it again,
so it must be exactly what build_plan gives for the final IR."""

from __future__ import annotations

from pathlib import Path

from osiris.canonical import sha256
from osiris.compile import compile_file
from osiris.plan import build_plan

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def test_kept_plan_is_the_final_irs_plan() -> None:
    for name in ("csv_to_csv.yaml", "fan_in_join.yaml", "mysql_to_supabase.yaml"):
        result = compile_file(str(EXAMPLES / name), env={"MYSQL_PASSWORD": "x", "SUPABASE_PASSWORD": "y"})
        assert result.pipeline is not None and result.ctx is not None, name
        kept = result.ctx.products["plan"]
        assert kept == build_plan(result.pipeline, result.ctx), name
        assert sha256(kept) == result.ctx.products["fingerprint"]["plan"], name
