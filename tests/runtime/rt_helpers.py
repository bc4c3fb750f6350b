"""Hand-written plans for runtime tests (no compiler involved)."""

from __future__ import annotations

from typing import Any

DRIVERS = {
    "filesystem.csv_extractor": "osiris.components.filesystem_csv_extractor.driver:Driver",
    "filesystem.csv_writer": "osiris.components.filesystem_csv_writer.driver:Driver",
    "duckdb.processor": "osiris.components.duckdb_processor.driver:Driver",
    "duckdb.extractor": "osiris.components.duckdb_extractor.driver:Driver",
    "duckdb.writer": "osiris.components.duckdb_writer.driver:Driver",
}
MODES = {"extractor": "read", "writer": "write", "processor": "transform"}


def sanitize(step_id: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in step_id)
    return "_" + out if out[:1].isdigit() else out


def step(
    sid: str,
    component: str,
    config: dict[str, Any],
    needs: list[str] | None = None,
    *,
    driver: str | None = None,
    connection: dict[str, Any] | None = None,
    schema: Any = None,
    write: Any = None,
) -> dict[str, Any]:
    needs = needs or []
    mode = MODES[component.split(".")[1].rsplit("_", maxsplit=1)[-1]]
    inputs = [] if mode == "read" else [{"step": n, "name": f"df_{sanitize(n)}"} for n in needs]
    if mode != "read" and len(needs) == 1:
        inputs.append({"step": needs[0], "name": "input_df"})
    return {
        "id": sid,
        "component": component,
        "mode": mode,
        "driver": driver or DRIVERS[component],
        "needs": needs,
        "inputs": inputs,
        "connection": connection,
        "config": config,
        "schema": schema,
        "write": write,
    }


def plan(*steps: dict[str, Any], name: str = "test-pipeline") -> dict[str, Any]:
    return {
        "plan_version": 1,
        "compiler": {"name": "osirisc", "version": "0.1.0"},
        "pipeline": {"name": name, "oml_version": "0.1.0", "description": None, "metadata": {}},
        "params": {},
        "steps": list(steps),
        "registry": {},
    }
