"""compile_file pauses the cyclic GC while it runs and restores the previous state, also when it fails."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from osiris import compile as compile_mod
from osiris.compile import compile_file, gc_paused

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "csv_to_csv.yaml"


def test_gc_is_off_inside_and_restored_after(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = compile_mod.load

    def spying(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compile_mod, "load", spying)
    assert gc.isenabled()
    result = compile_file(str(EXAMPLE))
    assert not result.failed and seen == [False] and gc.isenabled()


def test_state_restored_on_error_and_when_nested() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: stays off
    finally:
        gc.enable()
