"""Hostile input (#13): every command that reads a pipeline answers with a positioned diagnostic and exit 2, never
an internal error (exit 3, OSR-E009). Sizes are the ones reported: 10,000 levels of nesting, 4,301-digit and
4,000-hex-digit integers, 5,000-digit --param values, non-finite floats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from osiris.cli import main

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "examples" / "csv_cleanup.osiris").read_text(encoding="utf-8")
OML = (ROOT / "examples" / "csv_to_csv.yaml").read_text(encoding="utf-8")
COMMANDS = ("check", "fmt", "graph", "build", "plan", "emit")
POSITIONED = re.compile(r"^\S+\.(?:osiris|yaml):(\d+):(\d+): error\[(OSR-E\d{3})\]", re.M)


def _text_with(value: str) -> str:
    """csv_cleanup.osiris with ``value`` as a config value of the first step."""
    return TEXT.replace(
        "    header = true\n  }\n\n  step valid", f"    header = true\n    extra = {value}\n  }}\n\n  step valid"
    )


def _oml_with(value: str) -> str:
    """csv_to_csv.yaml with ``value`` as a config value of the last step."""
    return OML + f"      extra: {value}\n"


CASES = {
    "param-two-names.osiris": (TEXT.replace('param input = "data/orders.csv"', "param a b"), "OSR-E050", 4),
    "deep-list.osiris": (_text_with("[" * 10_000 + "]" * 10_000), "OSR-E066", 10),
    "deep-map.osiris": (_text_with("{a = " * 10_000 + "1" + "}" * 10_000), "OSR-E066", 10),
    "huge-int.osiris": (_text_with("9" * 4301), "OSR-E065", 10),
    "param-nan.osiris": (TEXT.replace('"data/orders.csv"', "nan"), "OSR-E065", 4),
    "param-inf.osiris": (TEXT.replace('"data/orders.csv"', "-inf"), "OSR-E065", 4),
    "param-1e999.osiris": (TEXT.replace('"data/orders.csv"', "1e999"), "OSR-E065", 4),
    "deep-list.yaml": (_oml_with("[" * 10_000 + "]" * 10_000), "OSR-E017", 21),
    "deep-map.yaml": (_oml_with("{a: " * 10_000 + "1" + "}" * 10_000), "OSR-E017", 21),
    "deep-block.yaml": (_oml_with("\n" + "".join("  " * (i + 4) + "- \n" for i in range(2000))), "OSR-E017", 0),
    "huge-int.yaml": (_oml_with("9" * 4301), "OSR-E015", 21),
    "huge-hex.yaml": (_oml_with("0x" + "f" * 4000), "OSR-E015", 21),
    "huge-hex-param.yaml": (OML + "params:\n  n: 0x" + "f" * 4000 + "\n", "OSR-E015", 22),
    "huge-sexagesimal.yaml": (_oml_with("1" + ":59" * 3000), "OSR-E015", 21),
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_a_positioned_diagnostic(
    name: str, command: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, code, line = CASES[name]
    (folder / name).write_text(text, encoding="utf-8")
    args = [command, name] + (["-o", "out"] if command in ("build", "emit") else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    found = [(int(m.group(1)), m.group(3)) for m in POSITIONED.finditer(err)]
    assert found, err[:2000]
    assert code in {c for _, c in found}, err[:2000]
    if line:
        assert (line, code) in found, err[:2000]
    assert "OSR-E009" not in err and "internal" not in err and "Traceback" not in err
    assert not (folder / "out").exists()


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, "-" + "9" * 5000, "0x" + "f" * 5000, "0o" + "7" * 6000, "1e999", "nan", "inf"],
    ids=["digits", "negative", "hex", "octal", "1e999", "nan", "inf"],
)
def test_unrepresentable_param_values_stay_text(value: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --param a plan cannot hold as a number is the text given (the rule for .nan and 007): a template gets
    exactly those characters, and a numeric field refuses it at check with its position."""
    pipeline = TEXT.replace('param input = "data/orders.csv"', 'param input = "data/orders.csv"\n  param n = 1')
    as_text = pipeline.replace("amount > 0", "amount > ${params.n}")
    (folder / "t.osiris").write_text(as_text, encoding="utf-8")
    if value.startswith(("0x", "0o")):  # the text lands in the SQL, where it is no literal: check's SQL parse says so
        assert main(["check", "t.osiris", "--param", f"n={value}"]) == 2
        err = capsys.readouterr().err
        assert POSITIONED.search(err) and "OSR-E203" in err and "OSR-E009" not in err, err[:2000]
    else:
        assert main(["check", "--print-ir", "t.osiris", "--param", f"n={value}"]) == 0
        assert f"amount > {value}" in capsys.readouterr().out
    as_number = pipeline.replace(
        'delimiter = ","\n    header = true\n  }\n\n  step valid',
        'delimiter = ","\n    header = true\n    batch_size = ${params.n}\n  }\n\n  step valid',
    )
    (folder / "n.osiris").write_text(as_number, encoding="utf-8")
    assert main(["check", "n.osiris", "--param", f"n={value}"]) == 2
    err = capsys.readouterr().err
    assert POSITIONED.search(err) and "OSR-E009" not in err, err[:2000]


def test_largest_integer_is_accepted(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The limit is Python's own: 4,300 digits (leading zeros do not count) are built into the plan."""
    big = "9" * 4300
    declared = 'param input = "data/orders.csv"\n  param n = 000' + big
    text = TEXT.replace('param input = "data/orders.csv"', declared).replace("amount > 0", "amount > ${params.n}")
    (folder / "t.osiris").write_text(text, encoding="utf-8")
    (folder / "t.yaml").write_text(OML + f"params:\n  n: {big}\n", encoding="utf-8")
    assert main(["check", "t.osiris", "t.yaml"]) == 0, capsys.readouterr().err
    assert main(["build", "t.osiris", "-o", "out"]) == 0, capsys.readouterr().err
    assert f"amount > {big}" in (folder / "out" / "plan.json").read_text(encoding="utf-8")


def test_long_sexagesimal_integer_is_refused_before_computing_it(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """YAML 1.1 reads 1:59:59... as base 60; 100,000 groups took minutes to compute (quadratic) before the
    refusal. The count of groups alone proves it too large."""
    (folder / "s.yaml").write_text(_oml_with("1" + ":59" * 100_000), encoding="utf-8")
    assert main(["check", "s.yaml"]) == 2
    assert "s.yaml:21:14: error[OSR-E015]: the integer '1:59:59" in capsys.readouterr().err


def test_fmt_finds_comments_in_linear_time() -> None:
    """fmt tells whether formatting drops a comment; it used to test every '#' against every scalar (a 420 KB
    YAML of 20,000 '#'-holding values: 222 s). Same answers, on values, keys, flow and block scalars."""
    from osiris.cli.fmt import has_comments

    many = "".join(f'k{i}: "#{i}"\n' for i in range(2_000))
    assert has_comments(many, "oml") is False
    assert has_comments(many + "# the end\n", "oml") is True
    assert has_comments("a: b # c\n", "oml") is True
    assert has_comments("'#k': [x#y, '#']\nb: |\n  # text\n", "oml") is False
    assert has_comments("a: x\n# c\nb: y\n", "oml") is True
