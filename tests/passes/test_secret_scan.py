"""``secret_scan.scan`` finds exactly what the regular expressions it replaced found (#13.6), in linear time."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from osiris.compile import compile_file
from osiris.passes import secret_scan
from osiris.passes.redact_secrets import find_secrets
from osiris.passes.secret_scan import scan

# The patterns of redact_secrets before #13.6, verbatim: the reference the scanner must agree with.
REFERENCE = (
    ("OSR-E181", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'\"]*:(?P<s>[^\s@/'\"]+)@")),
    (
        "OSR-E182",
        re.compile(r"(?i)(?<![A-Za-z0-9_.])(?:password|passwd|pwd)\s*=\s*(?P<s>'[^']+'|\"[^\"]+\"|[^\s;'\",)]+)"),
    ),
    (
        "OSR-E183",
        re.compile(
            r"(?P<s>\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
            r"|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bsbp_[A-Za-z0-9]{30,}"
            r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$))"
        ),
    ),
)

# Pieces the patterns care about, so short random strings hit matches, near misses and overlaps often.
PIECES = st.sampled_from(
    [
        "a",
        "Z",
        "9",
        "x1",
        "eyJ",
        "eyJhbGciOi",
        "abcdefgh",
        "-",
        "_",
        ".",
        "+",
        ":",
        "/",
        "://",
        "@",
        " ",
        "\n",
        "\t",
        "'",
        '"',
        "=",
        ";",
        ",",
        ")",
        "é",
        "\u00a0",
        "${",
        "}",
        "password",
        "PWD",
        "passwd",
        "AKIA",
        "ABCDEFGHIJKLMNOP",
        "ghp_",
        "xoxb-",
        "sbp_",
        "0123456789abcdefghij",
        "-----BEGIN ",
        "RSA ",
        "PRIVATE KEY-----",
        "-----END ",
        "host=h ",
        "postgres",
        "s3+x",
        "user",
    ]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join) | st.text(max_size=60)


def reference(text: str) -> list[tuple[str, int, int]]:
    return [(code, *m.span("s")) for code, pattern in REFERENCE for m in pattern.finditer(text)]


@given(TEXTS)
@example("pg://u:p@h pg://u:q@h")
@example("1a://u:p@h")
@example("-eyJabcdefgh.abcdefgh.abcdefgh-eyJabcdefgh.abcdefgh.abcdefghi")
@example("eyJabcdefghAKIAABCDEFGHIJKLMNOP.abcdefgh.abcdefgh")
@example("a-eyJabcdefgh.abcdefgh.abcdefgh")
@example("-----BEGIN RSA PRIVATE KEY----- eyJabcdefgh.abcdefgh.abcdefgh")
def test_scan_finds_what_the_regular_expressions_found(text: str) -> None:
    assert [(code, start, end) for code, _, start, end in scan(text)] == reference(text)


def _seconds(text: str) -> float:
    began = time.perf_counter()
    list(find_secrets(text))
    return time.perf_counter() - began


def test_scan_time_grows_linearly_on_the_inputs_that_were_quadratic() -> None:
    """Not a timing test: it compares the same scan at two sizes, so the speed of the machine cancels out (and a
    noisy measurement is taken again); a quadratic scan takes ~16x as long on 4x the text, a linear one ~4x."""
    shapes = {
        "one long word": lambda n: "a" * n,
        "scheme characters": lambda n: ("a.b+" * n)[:n],
        "dashed eyJ": lambda n: ("-eyJ" * n)[:n],
        "near-miss URLs": lambda n: ("ab://user:" * n)[:n],
        "passwords": lambda n: "host=h " + ("pwd=x " * n)[:n],
    }
    for name, make in shapes.items():
        small_text, large_text = make(20_000), make(80_000)
        for _attempt in range(4):
            small = min(_seconds(small_text) for _ in range(3))
            large = min(_seconds(large_text) for _ in range(3))
            if large < 9 * small + 0.02:
                break
        else:
            raise AssertionError(f"{name}: {small:.4f}s for 20k characters, {large:.4f}s for 80k")


@pytest.mark.slow
def test_a_string_aliased_300_times_is_scanned_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported shape: one 20 KB query anchored once and aliased by 300 steps (it took 85 s to check)."""
    words = " ".join(f"w{i:05d}x" for i in range(2500))[:20_000]
    lines = [
        'oml_version: "0.1.0"',
        "name: aliases",
        "steps:",
        "  - {id: read, component: filesystem.csv_extractor, mode: read, config: {path: in.csv}}",
        f'  - {{id: s0, component: duckdb.processor, mode: transform, config: {{query: &q "SELECT 1 -- {words}"}}}}',
    ]
    lines += [
        f"  - {{id: s{i}, component: duckdb.processor, mode: transform, needs: [read], config: {{query: *q}}}}"
        for i in range(1, 300)
    ]
    path = tmp_path / "aliases.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scanned: list[int] = []
    original = secret_scan._scan

    def counting(text: str) -> Iterator[tuple[str, str, int, int]]:
        scanned.append(len(text))
        return original(text)

    secret_scan.scan.cache_clear()
    monkeypatch.setattr(secret_scan, "_scan", counting)
    result = compile_file(str(path), env={})
    assert not result.failed, [d.message for d in result.diagnostics]
    assert scanned.count(len("SELECT 1 -- ") + len(words)) == 1
