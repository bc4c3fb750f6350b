"""Generated secrets, and connection files and environments that hold them.

A secret value is long and random enough that finding it anywhere (a build file, a run directory, a diagnostic)
can only mean it leaked: ``secret_values()`` draws 16-40 characters with a fixed marker prefix, mixing letters,
digits, punctuation and unicode, so a test can also search for shorter fragments (``fragments``).

``connection_files()`` draws ``(document, secrets)``: an ``osiris_connections.yaml`` document with literal secret
fields, ``${VAR}`` and ``${VAR:-fallback}`` forms; ``environments()`` draws ``{NAME: secret}`` mappings.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MARKER = "sEcR"
_TAIL = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="'\"\\$@")


def secret_values(min_size: int = 12, max_size: int = 36) -> st.SearchStrategy[str]:
    """A secret: ``sEcR`` + random text (no spaces, quotes, ``$`` or ``@``: it stays one token in any rendering)."""
    return st.text(_TAIL, min_size=min_size, max_size=max_size).map(lambda t: MARKER + t)


def fragments(secret: str, size: int = 12) -> list[str]:
    """The secret and its first ``size`` characters (a truncated message is still a leak; the marker prefix keeps
    the fragment from matching ordinary text even when hypothesis shrinks the rest to plain words)."""
    return [secret] if len(secret) <= size else [secret, secret[:size]]


def leaks(secret: str, text: str | bytes) -> bool:
    """True when ``text`` holds the secret or its leading fragment (UTF-8 for bytes)."""
    haystack = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return any(f in haystack for f in fragments(secret))


env_var_names = st.from_regex(r"OSRT_[A-Z][A-Z0-9_]{3,12}", fullmatch=True)


def environments(min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(env_var_names, secret_values(), min_size=min_size, max_size=max_size)


@st.composite
def connection_files(draw: st.DrawFn, families: tuple[str, ...] = ("mysql", "postgres", "supabase")) -> Any:
    """``(document, env, secrets)``: connections whose secret fields are literal, ``${VAR}`` or ``${VAR:-x}``."""
    env: dict[str, str] = {}
    secrets: list[str] = []
    doc: dict[str, dict[str, Any]] = {}
    for family in draw(st.lists(st.sampled_from(families), min_size=1, unique=True)):
        aliases = draw(
            st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=2, unique=True)
        )
        doc[family] = {}
        for i, alias in enumerate(aliases):
            secret = draw(secret_values())
            secrets.append(secret)
            form = draw(st.sampled_from(("literal", "env", "env_default")))
            if form == "literal":
                password: str = secret
            else:
                var = draw(env_var_names.filter(lambda v: v not in env))
                env[var] = secret
                password = "${" + var + "}" if form == "env" else "${" + var + ":-fallback}"
            entry: dict[str, Any] = {"host": "127.0.0.1", "user": "u", "database": "d", "password": password}
            if i == 0:
                entry["default"] = True
            doc[family][alias] = entry
    return {"connections": doc}, env, tuple(secrets)
