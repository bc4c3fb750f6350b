"""The one secrets model, shared by the compiler and the runtime (it imports neither).

- **Which fields are secret** comes from the component specs (``secrets`` / ``x-secret``), carried in plan.json
  as each step's ``secret_fields``. ``SECRET_NAMES`` is the one name rule (exact names, or ``_password``-like
  suffixes; never a substring, so ``primary_key`` is not secret), used only where no spec speaks: a connection
  field no spec declares, and the compiler's refusal of inline secrets.
- **Markers**: ``{"$secret": {...}}`` in a plan's config; ``markers`` / ``replace_markers`` are the one walker.
- **Placeholders** (``${env.NAME}``, ``${VAR}``, ``@family.alias``) stand for a value and are never checked as
  if they were it.
- **Masking**: ``Masker`` replaces every registered secret value, and the password part of a DSN or URL
  (``dsn_passwords``, which parses what libpq cannot: raw ``@``, spaces, ``%ZZ``), by ``MASK`` in text and in the
  *values* of data (keys are never rewritten: a secret equal to an event key masks nothing structural).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

MASK = "***"
MARKER = "$secret"

SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "access_token",
        "refresh_token",
        "auth_token",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "key",
        "service_role_key",
        "anon_key",
        "dsn",
        "pg_dsn",
        "private_key",
        "credentials",
        "secret_access_key",
        "access_key_id",
        "connection_string",
        "session_token",
    }
)
SECRET_SUFFIXES = (
    "_password",
    "_passwd",
    "_secret",
    "_token",
    "_api_key",
    "_apikey",
    "_private_key",
    "_secret_key",
    "_access_key",
    "_credentials",
    "_dsn",
)

ENV_REF = re.compile(r"^\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}$")
CONNECTION_REF = re.compile(r"^@([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$")
_VAR_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$")

_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://(?P<rest>.*)$", re.DOTALL)
_KV_PASSWORD = re.compile(r"(?i)(?:^|[\s;])(?:password|passwd|pwd)\s*=\s*(?P<v>'(?:[^'\\]|\\.)*'?|[^\s;]*)")


def is_secret_name(name: str) -> bool:
    """The name rule where no spec says: an exact secret name, or a secret suffix (``db_password``)."""
    lowered = name.lower()
    return lowered in SECRET_NAMES or lowered.endswith(SECRET_SUFFIXES)


def is_placeholder(value: Any) -> bool:
    """``${env.NAME}``, ``${VAR}`` / ``${VAR:-x}`` or ``@family.alias``: a reference, not the value itself."""
    return isinstance(value, str) and bool(
        ENV_REF.match(value) or _VAR_ONLY.match(value) or CONNECTION_REF.match(value)
    )


# -- markers ----------------------------------------------------------------------------------------------------
def marker_of(value: Any) -> dict[str, Any] | None:
    """The marker's body when ``value`` is exactly ``{"$secret": {...}}``, else None."""
    if isinstance(value, dict) and set(value) == {MARKER} and isinstance(value[MARKER], dict):
        body: dict[str, Any] = value[MARKER]
        return body
    return None


def markers(config: Any) -> Iterator[dict[str, Any]]:
    """Every marker body inside ``config`` (dicts and lists, any depth)."""
    body = marker_of(config)
    if body is not None:
        yield body
    elif isinstance(config, dict):
        for v in config.values():
            yield from markers(v)
    elif isinstance(config, list):
        for v in config:
            yield from markers(v)


def replace_markers(config: Any, value_of: Callable[[dict[str, Any]], Any]) -> Any:
    """A copy of ``config`` with each marker replaced by ``value_of(body)``."""
    body = marker_of(config)
    if body is not None:
        return value_of(body)
    if isinstance(config, dict):
        return {k: replace_markers(v, value_of) for k, v in config.items()}
    if isinstance(config, list):
        return [replace_markers(v, value_of) for v in config]
    return config


# -- DSNs and URLs ----------------------------------------------------------------------------------------------
def dsn_passwords(text: str) -> list[str]:
    """The password part(s) of a DSN in URL form (``scheme://user:pass@host/db``, the last ``@`` ends the user
    part, so a raw ``@`` or space in the password is fine) or key=value form (``password='a b'``), as written and
    decoded. Works on text no client library accepts (``%ZZ``)."""
    found: list[str] = []
    m = _URL.match(text)
    if m:
        rest = m["rest"]
        userinfo = rest[: rest.rfind("@")] if "@" in rest else ""
        if ":" in userinfo:
            found.append(userinfo.partition(":")[2])
    for kv in _KV_PASSWORD.finditer(text):
        raw = kv["v"]
        found.append(raw)
        if raw.startswith("'"):
            inner = raw[1:-1] if len(raw) > 1 and raw.endswith("'") else raw[1:]
            found += [inner, re.sub(r"\\(.)", r"\1", inner)]
    out: list[str] = []
    for value in found:
        for form in (value, unquote(value)):
            if form and form not in out:
                out.append(form)
    return out


def secret_values(fields: Mapping[str, Any], secret_fields: Iterable[str] = ()) -> list[str]:
    """The values of ``fields`` to mask: secret fields (named by the spec, or by the name rule) whole, and the
    password part of any DSN/URL among the other string values."""
    named = set(secret_fields)
    out: list[str] = []
    for key, value in fields.items():
        if isinstance(value, Mapping | list) and (key in named or is_secret_name(key)):
            out += [v for v in string_leaves(value) if v]  # a secret mapping, e.g. HTTP headers: every value
            continue
        if not isinstance(value, str) or not value:
            continue
        if key in named or is_secret_name(key):
            out.append(value)
        out += dsn_passwords(value)
    return out


def string_leaves(value: Any) -> list[str]:
    """The strings inside a value (mappings and lists walked)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in string_leaves(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in string_leaves(v)]
    return []


# -- masking ----------------------------------------------------------------------------------------------------
class Masker:
    """Collects secret values; ``text`` / ``data`` return copies with each one replaced by ``MASK``."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a secret value, and the password part when it is a DSN or URL."""
        if not isinstance(value, str) or not value.strip():
            return
        with self._lock:
            for v in (value, *dsn_passwords(value)):
                if v.strip() and v not in self._secrets:
                    self._secrets.add(v)
                    self._pattern = None

    def add_all(self, values: Iterable[str]) -> None:
        for value in values:
            self.add(value)

    @property
    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._secrets)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                ordered = sorted(self._secrets, key=lambda s: (-len(s), s))  # the longest match wins
                self._pattern = re.compile("|".join(map(re.escape, ordered)))
            return self._pattern

    def text(self, message: str) -> str:
        pattern = self._compiled()
        return message if pattern is None else pattern.sub(MASK, message)

    def record(self, record: Mapping[str, Any], vocabulary: Iterable[str] = ("event", "metric")) -> dict[str, Any]:
        """An event or metric record masked by ``data``, except the values of ``vocabulary`` keys (the record's
        kind, osirisc's own words: a secret ``step`` must not turn ``step_start`` into ``***_start``)."""
        kept = set(vocabulary)
        return {k: v if k in kept else self.data(v) for k, v in record.items()}

    def data(self, value: Any) -> Any:
        """``value`` with every string *value* masked; mapping keys are kept as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
