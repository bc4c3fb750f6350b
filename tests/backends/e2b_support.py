"""Helpers for the e2b backend tests: compile and bundle a pipeline, read bundles, compare runs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from osiris.backends.e2b.bundle import build_bundle
from osiris.compile import compile_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def bundle_of(pipeline: Path, out: Path) -> Path:
    """Compile ``pipeline`` (no errors allowed) and write its bundle to ``out``."""
    result = compile_file(str(pipeline))
    assert not result.failed, [d.message for d in result.diagnostics]
    out.write_bytes(build_bundle(result))
    return out


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def repack(files: dict[str, bytes]) -> bytes:
    """A plain (non-deterministic) tar.gz of ``files``, as a tamperer would make it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def step_events(evs: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """Per step, its events in order with their row counts (timings and timestamps left out)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for e in evs:
        if e.get("step") and e["event"].startswith("step_"):
            out.setdefault(e["step"], []).append(
                (e["event"], e.get("rows_in"), e.get("rows_out"), e.get("rows_written"), e.get("component"))
            )
    return out


def record_files(run_dir: Path) -> set[str]:
    """Files of a run directory, without the sandbox-only artifacts/ folder."""
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()} - {
        p.relative_to(run_dir).as_posix() for p in (run_dir / "artifacts").rglob("*")
    }
