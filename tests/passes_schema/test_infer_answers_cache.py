"""infer_schemas keeps DuckDB's successful answers across runs (duck_cache): same schemas, DuckDB not started when
warm, a changed CSV re-sniffed, and errors or queries that can reach outside (quoted strings) always asked again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from osiris.compile import compile_file
from osiris.passes import duck_cache
from osiris.passes.infer_schemas import duckdb_engine

_CONNECT = duckdb.connect


class _Counting:
    """A DuckDB connection that counts connections, DESCRIBEs and CSV sniffs."""

    connects = describes = sniffs = 0

    def __init__(self) -> None:
        type(self).connects += 1
        self._con = _CONNECT()

    def execute(self, sql: str, *args: Any) -> Any:
        if "FROM sniff_csv(" in sql:
            type(self).sniffs += 1
        elif sql.startswith("DESCRIBE SELECT"):
            type(self).describes += 1
        return self._con.execute(sql, *args)

    def extract_statements(self, sql: str) -> Any:
        return self._con.extract_statements(sql)

    def close(self) -> None:
        self._con.close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(folder))
    monkeypatch.setattr(duckdb_engine(), "connect", _Counting)  # the module the compiler opens DuckDB with
    yield folder


def _reset() -> None:
    _Counting.connects = _Counting.describes = _Counting.sniffs = 0


def _pipeline(tmp: Path, q: str, csv: str = "id,amount,status\n1,1.50,new\n") -> Path:
    (tmp / "in.csv").write_text(csv, encoding="utf-8")
    steps = [
        {"id": "read", "component": "filesystem.csv_extractor", "mode": "read", "config": {"path": "in.csv"}},
        {"id": "t", "component": "duckdb.processor", "mode": "transform", "needs": ["read"], "config": {"query": q}},
    ]
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "c", "steps": steps}, sort_keys=False))
    return path


def _schemas(path: Path) -> tuple[dict[str, Any], list[str]]:
    _reset()
    result = compile_file(str(path))
    codes = [d.code for d in result.diagnostics]
    if result.pipeline is None:
        return {}, codes
    return {s.id: s.schema for s in result.pipeline.steps}, codes


def test_warm_compile_does_not_start_duckdb_and_agrees(tmp_path: Path, cache: Path) -> None:
    path = _pipeline(tmp_path, "SELECT id, amount * 2 AS double FROM input_df")
    cold, codes = _schemas(path)
    assert codes == [] and (_Counting.connects, _Counting.sniffs, _Counting.describes) == (1, 1, 1)
    assert (cache / duck_cache.FILE_NAME).is_file()
    warm, codes = _schemas(path)
    assert codes == [] and (_Counting.connects, _Counting.sniffs, _Counting.describes) == (0, 0, 0)
    assert warm == cold
    assert [c.name for c in warm["t"].columns] == ["id", "double"]


def test_a_rewritten_csv_is_sniffed_again(tmp_path: Path, cache: Path) -> None:
    path = _pipeline(tmp_path, "SELECT * FROM input_df")
    first, _ = _schemas(path)
    (tmp_path / "in.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    second, codes = _schemas(path)
    assert codes == [] and _Counting.sniffs == 1 and _Counting.describes == 1  # new input table: new DESCRIBE
    assert [c.name for c in second["read"].columns] == ["id", "name"] != [c.name for c in first["read"].columns]
    assert [c.name for c in second["t"].columns] == ["id", "name"]


@pytest.mark.parametrize(
    "query",
    ["SELECT *, 'x' AS tag FROM input_df", 'SELECT "id" FROM input_df', "SELECT $$x$$ AS s, id FROM input_df"],
)
def test_queries_with_quotes_are_always_described(tmp_path: Path, cache: Path, query: str) -> None:
    path = _pipeline(tmp_path, query)
    first, codes = _schemas(path)
    assert codes == []
    again, _ = _schemas(path)
    assert _Counting.describes == 1 and _Counting.sniffs == 0
    assert again == first


def test_sql_errors_are_never_kept(tmp_path: Path, cache: Path) -> None:
    path = _pipeline(tmp_path, "SELECT nope FROM input_df")
    for _ in range(2):
        result = compile_file(str(path))
        errors = [d for d in result.diagnostics if d.code == "OSR-E203"]
        assert len(errors) == 1 and "nope" in errors[0].message
    _reset()
    _schemas(path)
    assert _Counting.describes == 1


def test_a_corrupt_or_disabled_cache_only_means_asking_duckdb(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _pipeline(tmp_path, "SELECT id FROM input_df")
    cache.mkdir()
    (cache / duck_cache.FILE_NAME).write_text("[not a mapping", encoding="utf-8")
    first, codes = _schemas(path)
    assert codes == [] and _Counting.describes == 1
    monkeypatch.setenv("OSIRIS_CACHE_DIR", "")
    again, _ = _schemas(path)
    assert _Counting.describes == 1 and _Counting.sniffs == 1
    assert again == first


def _unlocked(tmp: Path, q: str) -> Path:
    steps = [
        {
            "id": "db",
            "component": "postgres.extractor",
            "mode": "read",
            "config": {"pg_dsn": "${env.DSN}", "table": "t"},
        },
        {"id": "t", "component": "duckdb.processor", "mode": "transform", "needs": ["db"], "config": {"query": q}},
    ]
    path = tmp / "u.yaml"
    path.write_text(yaml.safe_dump({"oml_version": "0.1.0", "name": "u", "steps": steps}, sort_keys=False))
    return path


def test_syntax_only_parse_is_kept_but_its_errors_are_not(tmp_path: Path, cache: Path) -> None:
    path = _unlocked(tmp_path, "SELECT customer, count(*) AS n FROM input_df GROUP BY 1")
    assert _schemas(path)[1] == ["OSR-W211"] and _Counting.connects == 1
    assert _schemas(path)[1] == ["OSR-W211"] and _Counting.connects == 0  # warm: the parse is remembered
    bad = _unlocked(tmp_path, "SELEC customer FROM input_df")
    for _ in range(2):
        assert _schemas(bad)[1] == ["OSR-E203"] and _Counting.connects == 1


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OSIRIS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert duck_cache.cache_dir() == tmp_path / "xdg" / "osirisc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert duck_cache.cache_dir() == tmp_path / "home" / ".cache" / "osirisc"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # never a folder under the working directory
    assert duck_cache.cache_dir() is None
    monkeypatch.setenv("OSIRIS_CACHE_DIR", "")
    assert duck_cache.cache_dir() is None


def test_answers_are_keyed_by_the_installed_duckdb_version(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert duck_cache._duckdb_version() == duckdb.__version__
    key = duck_cache.DuckAnswers().key("parse", "SELECT 1")
    monkeypatch.setattr(duck_cache, "_duckdb_version", lambda: "0.0.0-other")
    assert duck_cache.DuckAnswers().key("parse", "SELECT 1") != key
