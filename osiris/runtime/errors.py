"""Runtime errors with stable codes (OSR-E300..E399, catalogue ``osiris/ir/catalogue/runtime.yaml``)."""

from __future__ import annotations


class RunError(Exception):
    """A problem found before or while running a plan. ``code`` is stable; the message never holds a secret.

    ``invalid`` errors (bad plan, bad connections file, usage) exit 2; the others (a step failed) exit 1.
    """

    def __init__(self, code: str, message: str, *, invalid: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.invalid = invalid

    def render(self, where: str = "") -> str:
        prefix = f"{where}: " if where else ""
        return f"{prefix}error[{self.code}]: {self.message}"
