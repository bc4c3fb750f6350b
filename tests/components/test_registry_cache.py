"""The spec caches: a text that passed the jsonschema checks skips them next time, and its YAML document is read back
from JSON; nothing else changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import osiris.components.registry as mod
from osiris.components import spec_cache
from osiris.components.registry import Registry, SpecError, builtin_spec_files, parse_spec

SPEC = """\
name: cache.extractor
version: 1.0.0
modes: [extract]
configSchema:
  type: object
  properties:
    path: {type: string}
  required: [path]
x-runtime:
  driver: m:D
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache folder, read afresh (as a new process would)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("OSIRIS_CACHE_DIR", str(folder))
    spec_cache.known.cache_clear()
    monkeypatch.setattr(spec_cache, "_docs", None)
    yield folder
    spec_cache.known.cache_clear()


def _stored(folder: Path) -> list[str]:
    data: list[str] = json.loads((folder / spec_cache.FILE_NAME).read_text(encoding="utf-8"))
    return data


def _no_checks(raw: object, origin: str) -> None:
    raise AssertionError(f"jsonschema checks ran for {origin}")


def test_a_valid_spec_is_checked_once_then_remembered(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = parse_spec(SPEC, "a/spec.yaml")
    assert _stored(cache) == [spec_cache.key(SPEC, mod.meta_schema_text())]
    spec_cache.known.cache_clear()  # a new process
    monkeypatch.setattr(mod, "_check", _no_checks)
    again = parse_spec(SPEC, "a/spec.yaml")
    assert again == first
    assert again.raw == first.raw and again.config_schema == first.config_schema


def test_a_changed_text_is_checked_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parse_spec(SPEC, "a/spec.yaml")
    spec_cache.known.cache_clear()
    monkeypatch.setattr(mod, "_check", _no_checks)
    with pytest.raises(AssertionError, match="jsonschema checks ran"):
        parse_spec(SPEC + "title: changed\n", "a/spec.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SPEC.replace("{type: string}", "{type: strang}"), "a/spec.yaml: field 'configSchema/properties/path/type'"),
        (SPEC + "colour: blue\n", "a/spec.yaml: field '(document)'"),
        (SPEC + "secrets: [/nope]\n", "a/spec.yaml: field 'secrets'"),
    ],
)
def test_a_broken_spec_is_never_remembered(cache: Path, text: str, message: str) -> None:
    for _ in range(2):
        spec_cache.known.cache_clear()
        with pytest.raises(SpecError) as info:
            parse_spec(text, "a/spec.yaml")
        assert str(info.value).startswith(message), str(info.value)
    assert not (cache / spec_cache.FILE_NAME).exists()


def test_a_yaml_error_reads_as_pythons_loader(cache: Path) -> None:
    text = "name: x.extractor\nmodes: [extract\nversion: 1.0.0\n"
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(SpecError) as info:
        parse_spec(text, "bad/spec.yaml")
    assert str(info.value) == f"bad/spec.yaml: not valid YAML: {expected.value}"
    assert "^" in str(info.value)  # the Python loader's snippet, which libyaml's marks lack


def test_builtins_parse_alike_with_and_without_the_cache(cache: Path) -> None:
    files = list(builtin_spec_files())
    texts = {origin: f.read_text(encoding="utf-8") for origin, f in files}
    cold = Registry.from_files(files)
    assert len(_stored(cache)) == len(files)
    spec_cache.known.cache_clear()
    warm = Registry.from_files(files)
    for name in cold.names():
        a, b = cold.get(name), warm.get(name)
        assert a is not None and b is not None
        assert (a, a.raw, a.constraints, a.connection_fields) == (b, b.raw, b.constraints, b.connection_fields)
        assert a.raw == yaml.safe_load(texts[a.origin])  # libyaml = PyYAML here


def test_disabled_unwritable_or_corrupt_cache_only_means_checking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = mod._check

    def counting(raw: dict[str, object], origin: str) -> None:
        calls.append(origin)
        real(raw, origin)

    monkeypatch.setattr(mod, "_check", counting)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / spec_cache.FILE_NAME).write_text("{not json", encoding="utf-8")
    for setting in ("", str(blocker / "sub"), str(corrupt)):
        monkeypatch.setenv("OSIRIS_CACHE_DIR", setting)
        spec_cache.known.cache_clear()
        parse_spec(SPEC, "a/spec.yaml")
    spec_cache.known.cache_clear()
    assert calls == ["a/spec.yaml"] * 3
    assert _stored(corrupt) == [spec_cache.key(SPEC, mod.meta_schema_text())]


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OSIRIS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert spec_cache.cache_dir() == tmp_path / "xdg" / "osirisc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert spec_cache.cache_dir() == tmp_path / "home" / ".cache" / "osirisc"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # never a folder under the working directory
    assert spec_cache.cache_dir() is None
    monkeypatch.setenv("OSIRIS_CACHE_DIR", "")
    assert spec_cache.cache_dir() is None


def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    spec_cache.known.cache_clear()
    monkeypatch.setattr(spec_cache, "_docs", None)


def _no_yaml(text: str) -> object:
    raise AssertionError("the spec's YAML was parsed again")


def test_a_registry_load_stores_documents_read_back_without_yaml(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Registry.from_files(builtin_spec_files())
    assert len(json.loads((cache / spec_cache.DOCS_FILE).read_text(encoding="utf-8"))) == len(first.names())
    _new_process(monkeypatch)
    monkeypatch.setattr(mod, "_load_yaml", _no_yaml)
    again = Registry.from_files(builtin_spec_files())
    assert [again.get(n).raw for n in again.names()] == [first.get(n).raw for n in first.names()]  # type: ignore[union-attr]
    assert [again.get(n) for n in again.names()] == [first.get(n) for n in first.names()]


@pytest.mark.parametrize(
    ("extra", "cached"),
    [
        ("examples: [{title: t, config: {path: p, when: 2024-01-02}}]", False),  # a date: JSON has none
        ("examples: [{title: t, config: {path: p, 1: one}}]", False),  # JSON keys are strings
        ("examples: [{title: t, config: {path: p, x: 1.0, y: 1}}]", True),  # 1.0 and 1 keep their types
    ],
    ids=["date", "int-key", "float-and-int"],
)
def test_only_documents_json_keeps_exactly_are_reused(
    cache: Path, monkeypatch: pytest.MonkeyPatch, extra: str, cached: bool
) -> None:
    text = SPEC + extra + "\n"
    want = parse_spec(text, "a/spec.yaml").raw
    spec_cache.save_docs()
    assert (cache / spec_cache.DOCS_FILE).exists() == cached
    _new_process(monkeypatch)
    if cached:
        monkeypatch.setattr(mod, "_load_yaml", _no_yaml)
    got = parse_spec(text, "a/spec.yaml").raw
    assert got == want and spec_cache._same_types(got, want)


def test_a_corrupt_documents_file_only_means_parsing(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.mkdir(parents=True)
    key = spec_cache._doc_key(SPEC)
    (cache / spec_cache.DOCS_FILE).write_text(json.dumps({key: "not a document"}), encoding="utf-8")
    assert parse_spec(SPEC, "a/spec.yaml").raw == yaml.safe_load(SPEC)
    (cache / spec_cache.DOCS_FILE).write_text("{not json", encoding="utf-8")
    _new_process(monkeypatch)
    assert parse_spec(SPEC, "a/spec.yaml").raw == yaml.safe_load(SPEC)
