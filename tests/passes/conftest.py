"""Fixtures shared by the pass tests."""

from __future__ import annotations

import pytest

from osiris.passes import quick_schema


@pytest.fixture
def no_quick_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests about configs only jsonschema can judge: quick_schema.verdict always says None."""
    monkeypatch.setattr(quick_schema, "verdict", lambda schema, data: None)
