"""The redaction filter: every secret value resolved during a run is masked in everything written or printed."""

from __future__ import annotations

import threading
from typing import Any

MASK = "***"


class Redactor:
    """Collects secret values; ``text`` / ``data`` return copies with each one replaced by ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if value and len(value) >= 3:  # masking 1-2 character values would shred every message
            with self._lock:
                self._secrets.add(value)

    def text(self, message: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            message = message.replace(secret, MASK)
        return message

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
