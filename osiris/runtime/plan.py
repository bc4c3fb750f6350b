"""Loading a ``plan.json`` (docs/plan-format.md) and checking its structure before anything runs.

The runtime trusts nothing: a hand-edited or truncated plan gets ``RunError`` OSR-E300 (unreadable), OSR-E301
(a field is missing or has the wrong type, with its JSON path) or OSR-E302 (an unsupported ``plan_version``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from osiris.runtime.errors import RunError

PLAN_VERSION = 1
MODES = ("read", "extract", "transform", "write")
_DRIVER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def load_plan(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError("OSR-E300", f"cannot read plan '{p}': {exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise RunError("OSR-E300", f"plan '{p}' is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    validate_plan(data)
    _check_fingerprint(p, data)
    return data


def plan_sha256(data: Any) -> str:
    """The sha256 ``fingerprints.json`` records for a plan: of its compact canonical JSON (sorted keys, ``,``/``:``
    separators, UTF-8), as ``osiris.canonical.sha256`` computes it (the runtime does not import the compiler)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_fingerprint(path: Path, data: dict[str, Any]) -> None:
    """OSR-E303 when the build's ``fingerprints.json`` beside the plan records another plan."""
    try:
        recorded = json.loads((path.parent / "fingerprints.json").read_text(encoding="utf-8")).get("plan")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return  # no build record beside it (a plan copied alone, or a bundle's): the structure checks stand
    if isinstance(recorded, str) and recorded != plan_sha256(data):
        raise RunError(
            "OSR-E303",
            f"plan '{path}' was changed after it was built: its sha256 is {plan_sha256(data)[:12]}..., the build's "
            f"fingerprints.json records {recorded[:12]}...; rebuild it (or delete fingerprints.json to run it as "
            "edited)",
        )


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise RunError("OSR-E301", f"invalid plan: {where}: {what}")


def validate_plan(data: Any) -> None:
    """Raise ``RunError`` at the first structural problem; returns None when the plan can be executed."""
    _need(isinstance(data, dict), "(document)", "expected a JSON object")
    version = data.get("plan_version")
    if version != PLAN_VERSION:
        raise RunError("OSR-E302", f"plan_version {version!r} is not supported (this runtime reads {PLAN_VERSION})")
    pipeline = data.get("pipeline")
    _need(
        isinstance(pipeline, dict) and isinstance(pipeline.get("name"), str) and pipeline["name"] != "",
        "pipeline.name",
        "expected a non-empty string",
    )
    steps = data.get("steps")
    _need(isinstance(steps, list) and len(steps) > 0, "steps", "expected a non-empty list")
    seen: set[str] = set()
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        _need(isinstance(step, dict), where, "expected an object")
        sid = step.get("id")
        _need(isinstance(sid, str) and sid != "", f"{where}.id", "expected a non-empty string")
        _need(sid not in seen, f"{where}.id", f"duplicate step id '{sid}'")
        for key in ("component", "driver"):
            _need(isinstance(step.get(key), str) and step[key] != "", f"{where}.{key}", "expected a non-empty string")
        _need(bool(_DRIVER.match(step["driver"])), f"{where}.driver", "expected 'package.module:Class'")
        _need(step.get("mode") in MODES, f"{where}.mode", f"expected one of {', '.join(MODES)}")
        needs = step.get("needs", [])
        _need(
            isinstance(needs, list) and all(isinstance(n, str) for n in needs),
            f"{where}.needs",
            "expected a list of step ids",
        )
        for n in needs:
            _need(n in seen, f"{where}.needs", f"'{n}' is not an earlier step (steps must be in topological order)")
        inputs = step.get("inputs", [])
        _need(isinstance(inputs, list), f"{where}.inputs", "expected a list")
        for j, inp in enumerate(inputs):
            _need(
                isinstance(inp, dict) and isinstance(inp.get("step"), str) and isinstance(inp.get("name"), str),
                f"{where}.inputs[{j}]",
                'expected {"step": ID, "name": SQL_NAME}',
            )
            _need(inp["step"] in needs, f"{where}.inputs[{j}].step", f"'{inp['step']}' is not in needs")
        _need(isinstance(step.get("config", {}), dict), f"{where}.config", "expected an object")
        secret_fields = step.get("secret_fields", [])
        _need(
            isinstance(secret_fields, list) and all(isinstance(f, str) for f in secret_fields),
            f"{where}.secret_fields",
            "expected a list of field names",
        )
        conn = step.get("connection")
        _need(
            conn is None
            or (
                isinstance(conn, dict)
                and isinstance(conn.get("family"), str)
                and (conn.get("alias") is None or isinstance(conn.get("alias"), str))
            ),
            f"{where}.connection",
            'expected null or {"family": F, "alias": A|null}',
        )
        dialect = step.get("dialect")
        _need(dialect is None or isinstance(dialect, str), f"{where}.dialect", "expected null or a dialect name")
        for key in ("schema", "write"):
            _need(step.get(key) is None or isinstance(step[key], dict), f"{where}.{key}", "expected null or an object")
        seen.add(sid)
