"""Shared connection code for the database drivers: connecting with retries, type mapping, bulk paths.

Nothing here imports the compiler; ``scrub`` keeps credentials out of every message a driver raises.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from osiris.runtime.driver import StepError

T = TypeVar("T")

_SECRET_FIELDS = ("password", "pg_dsn", "dsn", "key", "service_role_key", "token", "url")
_NOT_SECRET = ("primary_key",)  # names a column: masking it hid the key of a unique violation
_PATTERNS = (
    re.compile(r"(password|passwd|pwd)\s*=\s*('[^']*'|\S+)", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]*:)[^@\s]*@"),
)


def secrets_of(*mappings: Mapping[str, Any] | None) -> list[str]:
    """The secret-looking values of connection/config mappings (to scrub from messages)."""
    found: list[str] = []
    for mapping in mappings:
        for key, value in (mapping or {}).items():
            if key.lower() in _NOT_SECRET:
                continue
            if isinstance(value, str) and len(value) >= 3 and any(s in key.lower() for s in _SECRET_FIELDS):
                found.append(value)
    return found


def scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every secret value and password-like DSN part replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    message = _PATTERNS[0].sub(lambda m: f"{m.group(1)}=***", message)
    return _PATTERNS[1].sub(lambda m: f"{m.group(1)}***@", message)


def with_retries(connect: Callable[[], T], retryable: Callable[[Exception], bool], attempts: int = 4) -> T:
    """Call ``connect``; retry errors ``retryable`` says are transient, with exponential backoff."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            return connect()
        except Exception as exc:
            if attempt == attempts or not retryable(exc):
                raise
            time.sleep(delay)
            delay *= 2.5
    raise AssertionError("unreachable")


def step_error(
    step: str, target: str, exc: BaseException, secrets: Iterable[str], *, retryable: bool = False
) -> StepError:
    """A StepError naming the step and target with the cause, credentials scrubbed."""
    cause = scrub(f"{type(exc).__name__}: {exc}".strip(), secrets)
    return StepError(f"{step} {target}: {cause}", retryable=retryable)
