"""Source positions. 1-based lines and columns; the end is exclusive (end_col points past the last character)."""

from __future__ import annotations

import attrs


@attrs.frozen
class Span:
    """Where a node came from: ``file:line:col`` up to ``end_line:end_col``."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @classmethod
    def point(cls, file: str, line: int, col: int) -> Span:
        return cls(file, line, col, line, col + 1)
