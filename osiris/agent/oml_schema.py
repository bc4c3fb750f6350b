"""The JSON Schema of an OML document, built from the frontend's rules and the registry's component specs.

For editors and agents: it says which top-level keys exist, what a step holds, which components and modes
there are, and, per component, the JSON Schema of its ``config`` (the spec's own). ``osirisc check`` remains the
authority: it also checks what a schema cannot say (references, cycles, secrets, SQL).
"""

from __future__ import annotations

from typing import Any


def oml_json_schema() -> dict[str, Any]:
    from osiris.components.registry import default_registry
    from osiris.frontend.oml import MODES, OML_VERSION

    registry = default_registry()
    per_component = []
    for spec in registry:
        config = dict(spec.raw.get("configSchema") or {"type": "object"})
        required = list(config.get("required", ()))
        if "connection" in spec.properties and required:
            # as check: fields a connection provides are required only without a connection
            config["required"] = [r for r in required if r not in spec.connection_fields]
            without = {"if": {"not": {"required": ["connection"]}}, "then": {"required": required}}
            config["allOf"] = [*config.get("allOf", ()), without]
        modes = sorted({"extract": "read"}.get(m, m) for m in spec.pipeline_modes)  # the spec's modes, as OML says
        per_component.append(
            {
                "if": {"properties": {"component": {"const": spec.name}}, "required": ["component"]},
                "then": {"properties": {"config": config, "with": config, "mode": {"enum": modes}}},
            }
        )
    param = {"description": "a value, or {default: value, ...}"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"OML {OML_VERSION} pipeline",
        "type": "object",
        "required": ["oml_version", "name", "steps"],
        "properties": {
            "oml_version": {"type": "string", "const": OML_VERSION},
            "name": {"type": "string", "minLength": 1, "description": "lowercase-kebab by convention"},
            "description": {"type": ["string", "null"]},
            "metadata": {"type": ["object", "null"]},
            "schedule": {},
            "params": {"type": "object", "additionalProperties": param},
            "profiles": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"params": {"type": "object"}}},
            },
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["id", "mode"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "component": {"enum": registry.names()},
                        "uses": {"enum": registry.names(), "description": "legacy spelling of component (deprecated)"},
                        "mode": {"enum": list(MODES)},
                        "description": {"type": "string"},
                        "needs": {"type": "array", "items": {"type": "string"}},
                        "inputs": {
                            "type": "object",
                            "additionalProperties": {"type": "string", "pattern": "^(\\$\\{[^{}]+\\.df\\}|@.+)$"},
                            "description": 'Osiris\'s input mapping, NAME: "${STEP_ID.df}" (or "@STEP_ID"): the steps '
                            "whose data this step reads (its needs when needs is absent)",
                        },
                        "config": {"type": "object"},
                        "with": {"type": "object", "description": "legacy spelling of config (deprecated)"},
                    },
                    "additionalProperties": False,
                    "allOf": per_component,
                },
            },
        },
    }
