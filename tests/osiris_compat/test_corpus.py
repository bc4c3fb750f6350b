"""The Osiris compatibility corpus (corpus.yaml): Osiris-style pipelines, each with the verdict Osiris's own
validator gives and the diagnostics ``osirisc check`` gives. osirisc must agree with Osiris on valid/invalid unless
the case says why Osiris is wrong by its own docs or specs (``differs``). Check only: nothing runs, no server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from osiris.compile import compile_file

CORPUS = Path(__file__).with_name("corpus.yaml")
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
OSIRIS_KEYS = {"valid", "errors", "warnings"}


def test_the_corpus_is_well_formed() -> None:
    names = [c["case"] for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 40
    for case in CASES:
        assert set(case) <= {"case", "from", "osiris", "osirisc", "differs", "pipeline"}, case["case"]
        assert case["from"] and set(case["osiris"]) <= OSIRIS_KEYS and isinstance(case["osiris"]["valid"], bool)
        assert case["osiris"]["valid"] or case["osiris"].get("errors"), f"{case['case']}: invalid says why"
    # both directions are represented: agreement on valid and on invalid files, and documented differences
    verdicts = {(c["osiris"]["valid"], "differs" in c) for c in CASES}
    assert verdicts >= {(True, False), (False, False), (True, True), (False, True)}


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    result = compile_file(str(tmp_path / f"{case['case']}.yaml"), text=case["pipeline"], env={})
    codes = sorted(d.code for d in result.diagnostics)
    assert codes == sorted(case["osirisc"]), [str(d) for d in result.diagnostics]
    ours_valid = not any(d.is_error for d in result.diagnostics)
    assert ours_valid == (result.pipeline is not None and not result.failed)
    if "differs" in case:
        assert ours_valid != case["osiris"]["valid"], f"{case['case']}: the verdicts agree; drop `differs`"
        assert len(case["differs"]) > 30, "say why Osiris is wrong by its own docs, or why osirisc refuses"
    else:
        assert ours_valid == case["osiris"]["valid"], f"{case['case']}: Osiris says {case['osiris']}"


def test_the_agent_schema_accepts_what_check_accepts() -> None:
    """The OML JSON Schema osirisc gives AI agents (``osirisc mcp``) must not refuse a file ``check`` accepts: it
    once demanded mode ``extract`` for extractors, which OML spells ``read``. (It may accept more: it cannot see
    graph rules, constraints or references.)"""
    import jsonschema

    from osiris.agent.oml_schema import oml_json_schema

    validator = jsonschema.Draft202012Validator(oml_json_schema())
    # the schema asks agents for the one OML version osirisc reads (check only warns about another: OSR-W014)
    accepted = [c for c in CASES if not any(code.startswith("OSR-E") or code == "OSR-W014" for code in c["osirisc"])]
    assert len(accepted) >= 15
    for case in accepted:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(case["pipeline"]))]
        assert errors == [], (case["case"], errors)
