"""Ctrl-C while infer_schemas imports DuckDB: held until the import is done, then a KeyboardInterrupt as usual.

DuckDB's native module aborts the process (SIGABRT, "Critical nanobind error") when a KeyboardInterrupt is raised
while it initialises; a module that interrupts itself half-way stands in for it here."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from osiris.passes.infer_schemas import import_holding_ctrl_c

HALFWAY = """\
import os, signal
os.kill(os.getpid(), signal.SIGINT)
for _ in range(1000):  # the handler runs between these bytecodes
    pass
DONE = True
"""


@pytest.fixture
def halfway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "hst_halfway.py").write_text(HALFWAY, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "hst_halfway"
    sys.modules.pop("hst_halfway", None)


def test_ctrl_c_during_the_import_is_raised_once_it_is_done(halfway: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        import_holding_ctrl_c(halfway)
    assert sys.modules[halfway].DONE
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_ctrl_c_stays_ignored(halfway: str) -> None:
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job's
    try:
        assert import_holding_ctrl_c(halfway).DONE
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
