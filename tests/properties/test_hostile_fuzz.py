"""Fuzzing both readers through the real command line (#13): the example pipelines, edited at the byte level by
``osiris.testing.mutations.hostile_sources`` (deletions, duplications, deep nesting, huge numbers, control
characters, NUL, invalid UTF-8, BOM, CR line ends, tabs, anchors, aliases, merge keys, tags), must give exit 0, or
exit 2 with an error at a position in the file: never an internal error (exit 3, OSR-E009) or a traceback.

The CLI's ``main`` runs in-process (fast); a few fixed files also go through a real ``osirisc`` process.
``HYPOTHESIS_PROFILE=thorough`` runs thousands of cases.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.cli import main
from osiris.testing.mutations import hostile_sources

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = {
    "oml": [p.read_bytes() for p in sorted(EXAMPLES.glob("*.yaml"))],
    "text": [p.read_bytes() for p in sorted(EXAMPLES.glob("*.osiris"))],
}
SUFFIX = {"oml": ".yaml", "text": ".osiris"}
COMMANDS = ("check", "fmt", "graph", "build", "plan")
CRASH = re.compile(r"OSR-E009|internal (compiler )?error|Traceback|this is a bug")
# A located error: file:line:col: error[CODE] (argparse usage errors cannot happen: the arguments are fixed).
LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[OSR-E\d{3}\]", re.M)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def command_line(command: str, path: Path, out_dir: Path) -> list[str]:
    return [command, str(path), *(["-o", str(out_dir)] if command == "build" else [])]


def assert_answered(code: int, out: str, err: str, path: Path, source: bytes) -> None:
    shown = f"exit {code}\n--- stderr\n{err[:3000]}\n--- stdout\n{out[:1000]}\n--- input\n{source[:600]!r}"
    assert code in (0, 2), shown
    crashed = CRASH.search(err) or CRASH.search(out)
    assert crashed is None, shown
    if code == 2:
        located = [m for m in LOCATED.finditer(err) if m.group("file") == str(path)]
        assert located, shown
        lines = len(LINE_BREAK.findall(source.decode("utf-8", "replace"))) + 1
        assert all(1 <= int(m.group("line")) <= lines and int(m.group("col")) >= 1 for m in located), shown


# pytest-timeout (300 s per test) would stop the thorough run mid-example, which hypothesis reports as flaky.
@pytest.mark.timeout(max(300, settings().max_examples))
@settings(
    max_examples=2 * settings().max_examples,  # ci: 120 (~10 s), thorough: 4,000
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=st.data(), syntax=st.sampled_from(sorted(SEEDS)), command=st.sampled_from(COMMANDS))
def test_mutated_examples_never_crash_the_cli(data: st.DataObject, syntax: str, command: str) -> None:
    source = data.draw(hostile_sources(SEEDS[syntax]), label="source")
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(EXAMPLES):
        path = Path(tmp) / f"pipeline{SUFFIX[syntax]}"
        path.write_bytes(source)
        code, out, err = run_cli(command_line(command, path, Path(tmp) / "out"))
    assert_answered(code, out, err, path, source)


# Fixed hostile files for the real-process check, one per kind of trouble, with the exit code each must give.
_TEXT = SEEDS["text"][0]
_OML = SEEDS["oml"][0]
_LAUGHS = b"".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode() for i in range(8)
)
FIXED = {
    "nul.osiris": (_TEXT.replace(b"oml", b"o\x00ml", 1), 2),
    "invalid-utf8.osiris": (_TEXT.replace(b"\n", b"\n\xff\xfe", 3), 2),
    "deep.osiris": (_TEXT.replace(b'"data/orders.csv"', b"[" * 10_000 + b"]" * 10_000), 2),
    "cr-only.osiris": (_TEXT.replace(b"\n", b"\r"), 0),
    "bom-cr.yaml": (b"\xef\xbb\xbf" + _OML.replace(b"\n", b"\r"), 0),
    "python-tag.yaml": (_OML.replace(b"mode: read", b"mode: !!python/object/apply:os.system ['touch owned']", 1), 2),
    "billion-laughs.yaml": (_OML + b"metadata:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + _LAUGHS, 2),
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_hostile_files_through_a_real_process(name: str, tmp_path: Path) -> None:
    source, expected = FIXED[name]
    path = tmp_path / name
    path.write_bytes(source)
    proc = subprocess.run(
        [sys.executable, "-m", "osiris.cli", "check", str(path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path if name == "python-tag.yaml" else EXAMPLES,
        timeout=120,
    )
    assert proc.returncode == expected, proc.stderr
    assert_answered(proc.returncode, proc.stdout, proc.stderr, path, source)
    assert not (tmp_path / "owned").exists() and not (EXAMPLES / "owned").exists()
