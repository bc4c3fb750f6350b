"""Past runs, read back from the run directories (``runs/<pipeline>/<run-id>/``, osiris/runtime/rundir.py).

``list_runs`` summarises every run under a runs folder, newest first; ``load_run`` reads one run's record in
full (status, events, executed DDL, step configs, the plan). Both only read files the runtime wrote, which hold no
secret; a run still in progress (no status.json yet) or cut short (a killed process) is summarised from its events.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class RunSummary:
    """One line of ``osirisc runs list``."""

    run_id: str
    pipeline: str
    path: Path
    status: str  # ok | failed | cancelled | running | incomplete
    started: float | None
    duration_s: float | None
    rows: int | None  # rows the writers wrote (or the last steps produced)
    failed_step: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["path"] = str(self.path)
        return data


@attrs.frozen
class RunRecord:
    """Everything a run left behind, for ``runs show`` and ``report``."""

    summary: RunSummary
    status: dict[str, Any]
    events: list[dict[str, Any]]
    ddl: dict[str, str]  # step file stem -> statements executed
    configs: dict[str, Any]  # step file stem -> effective config ($secret markers, never values)
    plan: dict[str, Any]  # the plan that ran (plan.json in the run directory; {} for older runs)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """The run's events; a torn last line (a killed writer) is left out."""
    try:
        text = (run_dir / "events.jsonl").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            events.append(record)
    return events


def _timestamp(value: Any) -> float | None:
    """A Unix time a date can be made of; anything else a torn or hand-edited record holds (NaN, 1e20, text) is
    unknown rather than a crash of every command that lists runs."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return float(value)


def _status_word(status: dict[str, Any] | None, events: list[dict[str, Any]]) -> str:
    kinds = {e.get("event") for e in events}
    if "run_cancelled" in kinds or (status or {}).get("cancelled"):
        return "cancelled"
    if status is not None:
        return "ok" if status.get("ok") else "failed"
    return "incomplete" if "run_complete" in kinds else "running"


def _rows(status: dict[str, Any] | None, events: list[dict[str, Any]]) -> int | None:
    """Rows the writers wrote: from status.json, else from the step_complete events so far."""
    steps = (status or {}).get("steps")
    if isinstance(steps, dict):
        counts = [s.get("rows_written") for s in steps.values() if isinstance(s, dict)]
    else:
        counts = [e.get("rows_written") for e in events if e.get("event") == "step_complete"]
    written = [n for n in counts if isinstance(n, int)]
    return sum(written) if written else None


def summarise(run_dir: Path) -> RunSummary:
    status = _read_json(run_dir / "status.json")
    status = status if isinstance(status, dict) else None
    events = read_events(run_dir)
    start = next((e for e in events if e.get("event") == "run_start"), None)
    started = _timestamp(start.get("ts")) if start else None
    ended = _timestamp(events[-1].get("ts")) if events else None
    duration_ms = (status or {}).get("duration_ms")
    duration = duration_ms / 1000 if isinstance(duration_ms, int | float) and math.isfinite(duration_ms) else None
    if duration is None and started is not None and ended is not None:
        duration = round(ended - started, 3)
    failed = (status or {}).get("failed_steps") or [e.get("step") for e in events if e.get("event") == "step_error"]
    error = (status or {}).get("error")
    if error is None:
        error = next((e.get("error") or e.get("message") for e in events if e.get("event") == "step_error"), None)
    return RunSummary(
        run_id=run_dir.name,
        pipeline=str((status or {}).get("pipeline") or (start or {}).get("pipeline") or run_dir.parent.name),
        path=run_dir,
        status=_status_word(status, events),
        started=started,
        duration_s=duration if isinstance(duration, int | float) else None,
        rows=_rows(status, events),
        failed_step=str(failed[0]) if failed else None,
        error=str(error) if error is not None else None,
    )


def run_dirs(runs_dir: Path, pipeline: str | None = None) -> list[Path]:
    """Every run directory under ``runs_dir`` (optionally of one pipeline folder), newest first."""
    if not runs_dir.is_dir():
        return []
    folders = [runs_dir / pipeline] if pipeline else sorted(p for p in runs_dir.iterdir() if p.is_dir())
    found = [d for f in folders if f.is_dir() for d in f.iterdir() if d.is_dir() and (d / "events.jsonl").exists()]
    return sorted(found, key=lambda d: (_start_ts(d), d.name), reverse=True)


def _start_ts(run_dir: Path) -> float:
    """When the run started (its first event); run ids alone sort only to the second."""
    try:
        with (run_dir / "events.jsonl").open(encoding="utf-8", errors="replace") as fh:
            first = json.loads(fh.readline() or "{}")
    except (OSError, json.JSONDecodeError):
        return 0.0
    ts = _timestamp(first.get("ts")) if isinstance(first, dict) else None
    return 0.0 if ts is None else ts


def list_runs(runs_dir: Path, pipeline: str | None = None, limit: int | None = None) -> list[RunSummary]:
    dirs = run_dirs(runs_dir, pipeline)
    return [summarise(d) for d in (dirs[:limit] if limit else dirs)]


def find_run(runs_dir: Path, ref: str) -> Path | None:
    """A run by id (or a unique prefix of one), by path, or ``last``/``latest`` for the newest."""
    as_path = Path(ref)
    if as_path.is_dir() and (as_path / "events.jsonl").exists():
        return as_path
    dirs = run_dirs(runs_dir)
    if ref in ("last", "latest"):
        return dirs[0] if dirs else None
    matches = run_matches(dirs, ref)
    return matches[0] if len(matches) == 1 else None


def run_matches(dirs: list[Path], ref: str) -> list[Path]:
    """The run folders an id names: those named exactly ``ref``, else those whose name starts with it."""
    return [d for d in dirs if d.name == ref] or [d for d in dirs if d.name.startswith(ref)]


def not_found(runs_dir: Path, ref: str) -> str:
    """Why ``find_run`` found no run for ``ref``: none matches, or several do (named, at most five)."""
    matches = run_matches(run_dirs(runs_dir), ref) if ref not in ("last", "latest") else []
    if len(matches) < 2:
        return f"no run {ref!r}"
    shown = ", ".join(f"{d.parent.name}/{d.name}" for d in matches[:5])
    more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
    return f"{len(matches)} runs match {ref!r} ({shown}{more}; give more of the id)"


def load_run(run_dir: Path) -> RunRecord:
    status = _read_json(run_dir / "status.json")
    ddl = {}
    for path in sorted((run_dir / "ddl").glob("*.sql")):
        try:
            ddl[path.stem] = path.read_text(encoding="utf-8")
        except OSError:
            continue
    configs = {}
    for path in sorted((run_dir / "steps").glob("*/config.json")):
        configs[path.parent.name] = _read_json(path)
    plan = _read_json(run_dir / "plan.json")
    return RunRecord(
        summarise(run_dir),
        status if isinstance(status, dict) else {},
        read_events(run_dir),
        ddl,
        configs,
        plan if isinstance(plan, dict) else {},
    )
