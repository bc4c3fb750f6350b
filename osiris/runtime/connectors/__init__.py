"""Shared connection code for the database drivers: connecting with retries, type mapping, bulk paths.

Nothing here imports the compiler; ``scrub`` keeps credentials out of every message a driver raises.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from osiris.runtime.driver import StepError
from osiris.secrets import MASK, Masker, secret_values

T = TypeVar("T")

_PATTERNS = (
    re.compile(r"(password|passwd|pwd)\s*=\s*('[^']*'|\S+)", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]*:)[^@\s]*@"),
)


def secrets_of(*mappings: Mapping[str, Any] | None) -> list[str]:
    """The secret values of connection/config mappings, by the one rule of ``osiris.secrets`` (a secret field's
    value, a DSN's password part; never a field that merely contains "key", such as ``primary_key``)."""
    return [value for mapping in mappings for value in secret_values(mapping or {})]


def scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every secret value and password-like DSN part replaced by the one mask."""
    message = Masker(secrets).text(message)
    message = _PATTERNS[0].sub(lambda m: f"{m.group(1)}={MASK}", message)
    return _PATTERNS[1].sub(lambda m: f"{m.group(1)}{MASK}@", message)


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
