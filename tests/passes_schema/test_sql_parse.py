"""Transform SQL is always parsed (OSR-E203 at the query) even when its inputs' columns are unknown, and such a
transform says once why it was not bound and how to fix that (OSR-W211)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from osiris.compile import compile_file


def _compile(tmp: Path, steps: list[dict[str, Any]]) -> list[Any]:
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "p", "steps": steps}, sort_keys=False))
    return list(compile_file(str(path), env={}).diagnostics)


def _db(step_id: str = "db") -> dict[str, Any]:
    config = {"pg_dsn": "${env.DSN}", "table": "orders"}
    return {"id": step_id, "component": "postgres.extractor", "mode": "read", "config": config}


def _sql(step_id: str, query: str, needs: list[str]) -> dict[str, Any]:
    return {"id": step_id, "component": "duckdb.processor", "mode": "transform", "needs": needs,
            "config": {"query": query}}  # fmt: skip


def test_syntax_error_behind_an_unlocked_source_points_into_the_query(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        'oml_version: "0.1.0"\nname: p\nsteps:\n'
        "  - id: db\n    component: postgres.extractor\n    mode: read\n"
        '    config:\n      pg_dsn: "${env.DSN}"\n      table: orders\n'
        "  - id: t\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: |\n"
        "        SELECT customer,\n               sum(amount) AS total\n        FROM input_df\n"
        "        GROUP BY customer HAVING\n"
    )
    [diag] = compile_file(str(path), env={}).diagnostics
    assert diag.code == "OSR-E203" and 'syntax error at or near "HAVING"' in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.col, diag.span.end_col) == (18, 27, 33)


def test_unbound_sql_is_a_warning_per_step_naming_the_source_and_the_fix(tmp_path: Path) -> None:
    diags = _compile(tmp_path, [_db(), _sql("a", "SELECT * FROM input_df", ["db"]), _sql("b", "SELECT 1", ["a"])])
    assert [d.code for d in diags] == ["OSR-W211", "OSR-W211"]
    for d, step in zip(diags, ("a", "b"), strict=True):
        assert f"step '{step}'" in d.message and "step 'db' has no schema at build time" in d.message
        assert "osirisc introspect FILE" in d.notes[0]
    csv = {"id": "later", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "later.csv"}}
    [diag] = _compile(tmp_path, [csv, _sql("c", "SELECT * FROM input_df", ["later"])])
    assert "later.csv does not exist at build time" in diag.message and "columns:" in diag.notes[0]


def test_no_warning_after_an_upstream_sql_error(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,name\n1,a\n")
    csv = {"id": "in", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "in.csv"}}
    diags = _compile(tmp_path, [csv, _sql("a", "SELECT nope FROM input_df", ["in"]), _sql("b", "SELECT 1", ["a"])])
    assert [d.code for d in diags] == ["OSR-E203"]


def test_duckdb_extractor_query_is_parsed(tmp_path: Path) -> None:
    step = {"id": "x", "component": "duckdb.extractor", "mode": "read",
            "config": {"path": "x.duckdb", "query": "SELECT a FROM t WHERE"}}  # fmt: skip
    [diag] = _compile(tmp_path, [step])
    assert diag.code == "OSR-E203" and "step 'x'" in diag.message
