"""Every example pipeline compiles without errors or warnings (`make demo` checks the same files), except OSR-W211
where a transform reads a database source the example ships no schema lock for (its SQL is then only parsed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osiris.compile import compile_file
from osiris.render import render_plain

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted([*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("*.osiris"), *EXAMPLES.glob("*/pipeline.yaml")])


def test_there_are_enough_examples() -> None:
    assert len(list(EXAMPLES.glob("*.yaml"))) >= 8
    assert (EXAMPLES / "quickstart" / "pipeline.yaml").is_file()
    assert (EXAMPLES / "movies" / "pipeline.yaml").is_file()
    assert (EXAMPLES / "movies" / "osiris_connections.yaml").is_file()


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_checks_clean(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = compile_file(str(path.relative_to(EXAMPLES)), env={})
    others = [d for d in result.diagnostics if d.code != "OSR-W211"]
    assert not result.failed and not others, render_plain(result.diagnostics, result.sources)
    assert result.pipeline is not None
    db_sources = {s.id for s in result.pipeline.steps if s.mode == "read" and s.schema is None}
    for d in result.diagnostics:  # W211 only ever blames an unlocked database source
        assert any(f"step '{sid}' has no schema at build time" in d.message for sid in db_sources), d.message


def test_quickstart_needs_no_server() -> None:
    text = (EXAMPLES / "quickstart" / "pipeline.yaml").read_text(encoding="utf-8")
    assert "connection" not in text
    assert (EXAMPLES / "quickstart" / "data" / "sales.csv").is_file()
