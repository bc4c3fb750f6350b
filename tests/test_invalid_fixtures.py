"""Golden tests for invalid inputs: every tests/fixtures/invalid/<CODE>-<slug>.<yaml|osiris> is compiled through the
whole front of the compiler (``compile_file``: frontend and passes) and its plain rendered diagnostics must equal
<CODE>-<slug>.expected. ``pytest tests/test_invalid_fixtures.py --update-goldens`` rewrites the goldens.

Fixtures are compiled from inside the fixture directory under their bare file name, so goldens do not depend on
where the repository lives.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from osiris.compile import compile_file
from osiris.ir.catalogue import catalogue
from osiris.render import render_plain

INVALID = Path(__file__).resolve().parent / "fixtures" / "invalid"
SUFFIXES = (".yaml", ".osiris")
NAME_RE = re.compile(r"^(OSR-[EWN]\d{3})-[a-z0-9-]+$")

# Codes no pipeline file can trigger, so no fixture can show them:
UNTRIGGERABLE = {
    "OSR-E001",  # cannot read the input file: the harness reads files that exist and are UTF-8
    "OSR-E002",  # unknown syntax: fixtures are chosen by their .yaml/.osiris extension
    "OSR-E009",  # internal compiler error: a bug, not an input
    "OSR-E102",  # --param naming an undeclared parameter: command line only (tests/passes/test_resolve_params.py)
    "OSR-E103",  # unknown --profile: command line only (tests/passes/test_resolve_params.py)
    "OSR-E130",
    "OSR-E131",
    "OSR-E132",
    "OSR-E134",  # graph errors build_dag repeats for hand-built IR: the
    # frontends report them first (tests/passes/test_build_dag.py covers them)
    "OSR-E145",  # package missing from requirements.lock: the shipped lock is complete (test_collect_requirements)
    "OSR-E206",  # schema drift: found at run time against a live source (tests/passes_schema, runtime tests)
    "OSR-E208",  # introspect could not read a source: `osirisc introspect` only (tests/passes_schema)
}
# Areas whose codes are reported while a plan runs, never by `osirisc check`; their own tests trigger them.
RUN_TIME_AREAS = {"runtime", "e2b"}


def fixtures() -> list[Path]:
    return sorted(p for p in INVALID.iterdir() if p.suffix in SUFFIXES) if INVALID.is_dir() else []


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_invalid_fixture(path: Path, update_goldens: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    match = NAME_RE.match(path.stem)
    assert match, f"{path.name}: fixture names are <CODE>-<slug>.<yaml|osiris> (slug: lowercase, digits, -)"
    monkeypatch.chdir(INVALID)
    result = compile_file(path.name, env={})
    rendered = render_plain(result.diagnostics, result.sources)
    assert match.group(1) in {d.code for d in result.diagnostics}, rendered
    golden = path.with_suffix(".expected")
    if update_goldens:
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"missing golden {golden.name}: run pytest {__file__} --update-goldens"
    assert rendered == golden.read_text(encoding="utf-8")


def test_every_golden_has_a_fixture() -> None:
    stems = {p.stem for p in fixtures()}
    orphans = sorted(p.name for p in INVALID.glob("*.expected") if p.stem not in stems)
    assert not orphans, f"goldens without a fixture: {orphans}"


def test_every_catalogue_code_has_a_fixture() -> None:
    covered = {m.group(1) for p in fixtures() if (m := NAME_RE.match(p.stem))}
    run_time = {code for code, info in catalogue().items() if info.area in RUN_TIME_AREAS}
    missing = sorted(set(catalogue()) - covered - UNTRIGGERABLE - run_time)
    assert not missing, f"catalogue codes without a fixture in tests/fixtures/invalid: {missing}"


def test_allow_list_names_real_codes() -> None:
    assert UNTRIGGERABLE.issubset(catalogue())
