"""The secret-looking parts of a string, found in time linear in its length (used by ``redact_secrets``).

``scan(text)`` yields ``(code, what, start, end)`` for exactly the matches ``re.finditer`` gives for these
three patterns, in this order (a property test compares them on generated text)::

    OSR-E181  [A-Za-z][A-Za-z0-9+.-]*://[^\\s/:@'"]*:(?P<s>[^\\s@/'"]+)@
    OSR-E182  (?i)(?<![A-Za-z0-9_.])(?:password|passwd|pwd)\\s*=\\s*(?P<s>'[^']+'|"[^"]+"|[^\\s;'",)]+)
    OSR-E183  (?P<s>\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,} | \\bAKIA... | ... PEM keys)

As regular expressions, E181 and the JWT branch of E183 take quadratic time: from every start position inside
a long run of scheme (or token) characters the engine scans to the end of the run before failing, so a 100 KB
word took seconds and 300 KB minutes. Both are hand-written here on the structure of their matches. Every part
of such a match is a maximal run of one character class (the next character ends the run), so a match is
decided by where the runs end, and every start inside one run shares those ends: E181 is tried once per
``://``, the JWT branch once per run, and each run is scanned a bounded number of times. The other patterns
never rescan more than the run they start on and stay regular expressions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

URL_CREDENTIALS = ("OSR-E181", "credentials in a URL")
CONNECTION_PASSWORD = ("OSR-E182", "a password in a connection string")
TOKEN = ("OSR-E183", "a token")

_PASSWORD = re.compile(r"(?i)(?<![A-Za-z0-9_.])(?:password|passwd|pwd)\s*=\s*(?P<s>'[^']+'|\"[^\"]+\"|[^\s;'\",)]+)")
# E183 without its first (JWT) branch; the JWT branch is ``_jwt_from``.
_OTHER_TOKENS = re.compile(
    r"(?P<s>\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bsbp_[A-Za-z0-9]{30,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$))"
)
# A scheme's characters, from the first one after a character that cannot be in a scheme, up to "://".
_SCHEME_RUN = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z0-9+.-]*://")
_LETTER = re.compile(r"[A-Za-z]")
_USER_RUN = re.compile(r"[^\s/:@'\"]*")
_SECRET_RUN = re.compile(r"[^\s@/'\"]+")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]*")
_WORD = re.compile(r"\w")


@functools.lru_cache(maxsize=64)
def scan(text: str) -> tuple[tuple[str, str, int, int], ...]:
    """Every match of the three patterns (E181 first, then E182, then E183), as (code, what, start, end) of the
    secret part (group ``s``). Remembered for the last texts seen: a YAML alias repeats one string object many
    times (300 copies of a 20 KB query), and each distinct text is scanned once."""
    return tuple(_scan(text))


def _scan(text: str) -> Iterator[tuple[str, str, int, int]]:
    for start, end in _url_credentials(text):
        yield (*URL_CREDENTIALS, start, end)
    for m in _PASSWORD.finditer(text):
        yield (*CONNECTION_PASSWORD, *m.span("s"))
    for start, end in _tokens(text):
        yield (*TOKEN, start, end)


def _url_credentials(text: str) -> Iterator[tuple[int, int]]:
    """``scheme://user:SECRET@``: once per ``://``, since every start in the scheme run reaches the same one."""
    pos = 0
    while (m := _SCHEME_RUN.search(text, pos)) is not None:
        sep = m.end() - 3
        letter = _LETTER.search(text, m.start(), sep)  # the leftmost start: a letter, then scheme characters
        user_end = _end(_USER_RUN, text, m.end())
        if letter is not None and text.startswith(":", user_end):
            secret_end = _SECRET_RUN.match(text, user_end + 1)
            if secret_end is not None and text.startswith("@", secret_end.end()):
                yield user_end + 1, secret_end.end()
                pos = secret_end.end() + 1
                continue
        pos = sep + 1


def _tokens(text: str) -> Iterator[tuple[int, int]]:
    """The E183 matches: the JWT branch and the others merged as one alternation would give them (leftmost
    first; at the same start the JWT branch, which comes first)."""
    pos = 0
    jwt = _jwt_from(text, pos)
    other = _OTHER_TOKENS.search(text, pos)
    while jwt is not None or other is not None:
        if other is None or (jwt is not None and jwt[0] <= other.start()):
            assert jwt is not None
            start, end = jwt
        else:
            start, end = other.span()
        yield start, end
        pos = end
        if jwt is not None and jwt[0] < pos:
            jwt = _jwt_from(text, pos)
        if other is not None and other.start() < pos:
            other = _OTHER_TOKENS.search(text, pos)


def _jwt_from(text: str, pos: int) -> tuple[int, int] | None:
    r"""The leftmost match at or after ``pos`` of ``\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}``.

    The three parts are maximal runs of ``[A-Za-z0-9_-]`` (a dot ends each), so for every ``eyJ`` inside one run
    the ends of the parts are the same; only the first part's length depends on the start, and it is longest
    for the leftmost ``eyJ``. So a run is decided at its first ``eyJ``, and the search goes on after the run."""
    while (start := text.find("eyJ", pos)) >= 0:
        if start > 0 and _WORD.match(text, start - 1):  # no \b before it: try the next occurrence
            pos = start + 1
            continue
        first = _end(_TOKEN_RUN, text, start + 3)
        if first - start - 3 >= 8 and text.startswith(".", first):
            second = _end(_TOKEN_RUN, text, first + 1)
            if second - first - 1 >= 8 and text.startswith(".", second):
                third = _end(_TOKEN_RUN, text, second + 1)
                if third - second - 1 >= 8:
                    return start, third
        pos = first  # every later eyJ of this run has a shorter first part, or the same failing ends
    return None


def _end(run: re.Pattern[str], text: str, pos: int) -> int:
    """Where the run of ``run``'s characters starting at ``pos`` ends (``run`` matches the empty string too)."""
    m = run.match(text, pos)
    return pos if m is None else m.end()
