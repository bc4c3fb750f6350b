from pathlib import Path

from osiris.cli import main
from osiris.ir.catalogue import CODE_RE, catalogue, markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"


def test_codes_are_well_formed_and_documented() -> None:
    codes = catalogue()
    assert codes
    for code, info in codes.items():
        assert CODE_RE.match(code)
        assert info.title and info.explanation.strip()


def test_docs_page_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), "run `make docs` to regenerate docs/diagnostics.md"


def test_explain(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["explain", "OSR-E001"]) == 0
    assert "cannot read the input file" in capsys.readouterr().out
    assert main(["explain", "e001"]) == 0
    assert main(["explain", "OSR-E999"]) == 2
