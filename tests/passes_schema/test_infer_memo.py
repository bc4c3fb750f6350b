"""infer_schemas asks DuckDB once per distinct (query, referenced input tables) and never reuses a wrong answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from osiris.compile import compile_file
from osiris.passes.infer_schemas import duckdb_engine

CSV = "id,amount,status\n1,1.50,new\n2,2.25,paid\n"
_CONNECT = duckdb.connect


def _write(tmp: Path, steps: list[dict[str, Any]]) -> Path:
    (tmp / "in.csv").write_text(CSV)
    (tmp / "wide.csv").write_text("id,amount,status,extra\n1,1.5,a,x\n")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "memo", "steps": steps}, sort_keys=False))
    return path


def _read(sid: str, file: str = "in.csv") -> dict[str, Any]:
    return {"id": sid, "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": file}}


def _sql(sid: str, need: str, query: str) -> dict[str, Any]:
    config = {"query": query}
    return {"id": sid, "component": "duckdb.processor", "mode": "transform", "needs": [need], "config": config}


class _Counting:
    """A DuckDB connection that counts the DESCRIBE statements it runs."""

    describes = 0
    connects = 0

    def __init__(self) -> None:
        type(self).connects += 1
        self._con = _CONNECT()

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("DESCRIBE SELECT") and "read_csv" not in sql:
            type(self).describes += 1
        return self._con.execute(sql, *args)

    def close(self) -> None:
        self._con.close()


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[_Counting]:
    _Counting.describes = _Counting.connects = 0
    monkeypatch.setattr(duckdb_engine(), "connect", _Counting)  # the module the compiler opens DuckDB with
    return _Counting


def test_repeated_groups_describe_each_query_once(tmp_path: Path, counting: type[_Counting]) -> None:
    steps: list[dict[str, Any]] = []
    for g in range(20):
        prev = f"g{g}-read"
        steps.append(_read(prev))
        for t in range(3):
            steps.append(_sql(f"g{g}-t{t}", prev, f"SELECT id, amount + {t} AS amount, status FROM input_df"))
            prev = f"g{g}-t{t}"
    result = compile_file(str(_write(tmp_path, steps)), env={})
    assert not result.failed, result.diagnostics
    assert counting.connects == 1
    assert counting.describes == 3  # not 60: the step-named aliases do not occur in the queries
    assert result.pipeline is not None
    schemas = {s.id: s.schema for s in result.pipeline.steps}
    last = schemas["g19-t2"]
    assert last is not None and last == schemas["g0-t2"]
    assert [c.name for c in last.columns] == ["id", "amount", "status"]


def test_same_query_over_a_different_input_is_described_again(tmp_path: Path, counting: type[_Counting]) -> None:
    steps = [_read("a"), _sql("ta", "a", "SELECT * FROM input_df"), _read("b", "wide.csv")]
    steps.append(_sql("tb", "b", "SELECT * FROM input_df"))
    result = compile_file(str(_write(tmp_path, steps)), env={})
    assert not result.failed, result.diagnostics
    assert result.pipeline is not None
    cols = {s.id: [c.name for c in s.schema.columns] for s in result.pipeline.steps if s.schema}
    assert cols["ta"] == ["id", "amount", "status"]
    assert cols["tb"] == ["id", "amount", "status", "extra"]
    assert counting.describes == 2


def test_error_uses_the_steps_own_catalogue(tmp_path: Path) -> None:
    """A query naming another step's alias works where that alias exists and fails (with DuckDB's own hint
    for this step's tables) where it does not - a memoised success must not leak across steps."""
    steps = [_read("r0"), _sql("t0", "r0", "SELECT * FROM df_r0"), _read("r1"), _sql("t1", "r1", "SELECT * FROM df_r0")]
    result = compile_file(str(_write(tmp_path, steps)), env={})
    errors = [d for d in result.diagnostics if d.code == "OSR-E203"]
    assert len(errors) == 1 and "'t1'" in errors[0].message
    con = duckdb.connect()
    con.execute('CREATE TABLE "df_r1" ("id" BIGINT, "amount" DOUBLE, "status" VARCHAR)')
    con.execute('CREATE TABLE "input_df" ("id" BIGINT, "amount" DOUBLE, "status" VARCHAR)')
    with pytest.raises(duckdb.Error) as fresh:
        con.execute("DESCRIBE SELECT * FROM df_r0")
    assert errors[0].message == f"SQL error in step 't1': {str(fresh.value).strip().splitlines()[0]}"
    assert any("df_r1" in n for n in errors[0].notes)
