"""Fixtures shared by the component tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sandbox_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """``venv_for(requirements_txt)``: a venv with exactly those pinned requirements, or one already built with a
    superset of them (the API extractors' sandbox tests: graphql's pins include posthog's, so one venv serves
    both when they run together; alone, each gets its own exact set)."""
    from osiris.backends.e2b.sandbox import create_venv

    built: list[tuple[frozenset[str], Path]] = []

    def venv_for(requirements: str) -> Path:
        wanted = frozenset(line.strip() for line in requirements.splitlines() if line.strip())
        for have, path in built:
            if wanted <= have:
                return path
        work = tmp_path_factory.mktemp("venv")
        (work / "requirements.txt").write_text(requirements, encoding="utf-8")
        create_venv(work / "venv", work / "requirements.txt", work / "install.log")
        built.append((wanted, work / "venv"))
        return work / "venv"

    yield venv_for
    for _, path in built:
        shutil.rmtree(path.parent, ignore_errors=True)
