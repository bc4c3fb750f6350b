"""spec_cache.installed: what importlib.metadata says (component entry points, versions), remembered across runs
under sys.path and its folders' times; a warm start does not import importlib.metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from osiris.components import spec_cache

CODE = (
    "import sys; from osiris.components import spec_cache; a = spec_cache.installed(); "
    "print('importlib.metadata' in sys.modules, a['versions']['jsonschema'])"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(folder))
    spec_cache._installed.clear()  # as a new process
    return folder


def _run(env_folder: Path) -> str:
    env = {"OSIRIS_CACHE_DIR": str(env_folder), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env).stdout


def test_a_warm_start_does_not_import_importlib_metadata(cache: Path) -> None:
    version = metadata.version("jsonschema")
    assert [_run(cache).split() for _ in "ab"] == [["True", version], ["False", version]]


def test_the_answers_are_importlib_metadatas(cache: Path) -> None:
    answers = spec_cache.installed()
    assert answers["versions"] == {"jsonschema": metadata.version("jsonschema"), "duckdb": metadata.version("duckdb")}
    stored = json.loads((cache / spec_cache.INSTALLED_FILE).read_text(encoding="utf-8"))
    assert stored["entries"] == {spec_cache._installed_key(): answers}


def test_a_new_distribution_on_sys_path_is_seen(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_cache.installed()
    site = tmp_path / "site"
    site.mkdir()
    os.utime(site, (1, 1))  # a folder that has been there a while
    monkeypatch.syspath_prepend(str(site))
    assert spec_cache.entry_points("osiris.components") == []
    info = site / "acme-1.0.dist-info"  # installed into a folder already on sys.path: its time changes
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[osiris.components]\nacme = acme_pkg:SPEC_DIR\n", encoding="utf-8")
    metadata_eps = [(e.name, e.value) for e in spec_cache.entry_points("osiris.components")]
    assert metadata_eps == [("acme", "acme_pkg:SPEC_DIR")]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"key": 1}',
        "[]",
        '{"entries": []}',
        '{"entries": {"%s": {"versions": 1}}}',
        '{"key": "%s", "answers": {"versions": {}, "entry_points": {}}}',  # the earlier one-key format
    ],
)
def test_a_broken_file_is_ignored(cache: Path, text: str) -> None:
    cache.mkdir(parents=True)
    (cache / spec_cache.INSTALLED_FILE).write_text(text % spec_cache._installed_key() if "%s" in text else text)
    assert spec_cache.installed()["versions"]["jsonschema"] == metadata.version("jsonschema")


def test_two_sys_paths_keep_their_own_answers(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = spec_cache.installed()
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.syspath_prepend(str(other))  # e.g. `python -m` (the cwd first) after the `osirisc` script
    spec_cache._installed.clear()
    assert spec_cache.installed() == first
    monkeypatch.undo()
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(cache))
    spec_cache._installed.clear()

    def no_metadata() -> None:
        raise AssertionError("importlib.metadata asked again")

    monkeypatch.setattr(spec_cache, "_ask_metadata", no_metadata)
    assert spec_cache.installed() == first  # the first key was not evicted by the second
    stored = json.loads((cache / spec_cache.INSTALLED_FILE).read_text(encoding="utf-8"))
    assert len(stored["entries"]) == 2
