"""The run's redaction filter: the one masker of ``osiris.secrets`` (kept under the runtime's old name)."""

from __future__ import annotations

from osiris.secrets import MASK, Masker

Redactor = Masker

__all__ = ["MASK", "Redactor"]
