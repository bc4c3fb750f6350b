"""status.json masks secrets in what users and servers wrote (errors, names), never in osirisc's own words: a
password ``in`` turned ``"state": "finished"`` into ``"f***ished"``, a password ``ok`` each step's ``"status": "ok"``
into ``"***"`` (seen with a real PostgreSQL password)."""

from __future__ import annotations

import json
from pathlib import Path

from osiris.runtime.redact import Redactor
from osiris.runtime.rundir import RunDir


def _status(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((path / "status.json").read_text(encoding="utf-8"))
    return data


def test_status_words_are_kept_and_secrets_in_messages_masked(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "runs", "p", Redactor(["in", "ok", "run", "writer"]))
    run.write_status({"ok": False, "state": "running", "run_id": run.run_id, "pipeline": "p"}, final=False)
    assert _status(run.path)["state"] == "running"
    step = {"status": "ok", "component": "duckdb.writer", "error": "auth ok failed", "rows_in": 3}
    status = {"ok": True, "state": "finished", "run_id": run.run_id, "error": "x in y", "steps": {"w": step}}
    assert run.write_status(status)
    run.close()
    written = _status(run.path)
    assert written["state"] == "finished" and written["run_id"] == run.run_id and written["error"] == "x *** y"
    assert written["steps"] == {
        "w": {"status": "ok", "component": "duckdb.writer", "error": "auth *** failed", "rows_in": 3}
    }
