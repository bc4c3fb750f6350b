"""``osirisc components list`` and ``osirisc components show NAME``: what the registry knows (``--format json``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from osiris.cli import common
from osiris.components.registry import SpecError, default_registry
from osiris.ir.diagnostics import did_you_mean


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("components", help="list the components or show one's config fields")
    action = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    common.add_format(action.add_parser("list", help="list the components"))
    show = action.add_parser("show", help="show a component's modes, config fields and an example")
    show.add_argument("name")
    common.add_format(show)


def describe(spec: Any) -> dict[str, Any]:
    """A component as plain data: modes, fields (type, default, required, secret), connection fields, example."""
    fields = []
    for key, prop in spec.properties.items():
        types = prop.get("type") or [t for s in prop.get("oneOf", []) for t in [s.get("type")] if t] or None
        if "enum" in prop:
            types = "enum"
        fields.append(
            {
                "name": key,
                "type": types if isinstance(types, str) or types is None else "|".join(types),
                "enum": prop.get("enum"),
                "default": prop.get("default"),
                "required": key in spec.required,
                "secret": key in spec.secret_fields,
                "description": prop.get("description", ""),
            }
        )
    return {
        "name": spec.name,
        "version": spec.version,
        "modes": list(spec.pipeline_modes),
        "fields": fields,
        "connection_fields": dict(sorted(spec.connection_fields.items())),
        "constraints": [c["message"] for c in spec.constraints],
        "driver": spec.driver,
        "packages": list(spec.packages),
        "example": spec.examples[0]["config"] if spec.examples else None,
    }


def run(args: argparse.Namespace) -> int:
    try:  # built-in specs are parsed when first listed or shown: a broken one raises here, not at load
        return _list_or_show(args, default_registry())
    except SpecError as exc:
        print(f"osirisc components: {exc}", file=sys.stderr)
        return 2


def _list_or_show(args: argparse.Namespace, registry: Any) -> int:
    if args.action == "list":
        rows = [{"name": s.name, "version": s.version, "modes": list(s.pipeline_modes)} for s in registry]
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['name']:<28} {r['version']:<8} {', '.join(r['modes'])}")
        return 0
    spec = registry.get(args.name)
    if spec is None:
        hint = did_you_mean(args.name, registry.names())
        print(f"osirisc components: unknown component '{args.name}'" + (f" ({hint})" if hint else ""), file=sys.stderr)
        return 2
    data = describe(spec)
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    print(f"{data['name']} {data['version']}  modes: {', '.join(data['modes'])}")
    print(f"driver: {data['driver']}  packages: {', '.join(data['packages'])}\n\nconfig fields:")
    for f in data["fields"]:
        flags = [w for w, on in (("required", f["required"]), ("secret", f["secret"])) if on]
        kind = "one of " + "|".join(map(str, f["enum"])) if f["enum"] else f["type"] or "any"
        default = f"  default {json.dumps(f['default'])}" if f["default"] is not None else ""
        print(f"  {f['name']:<18} {kind}{default}{'  [' + ', '.join(flags) + ']' if flags else ''}")
        if f["description"]:
            print(f"  {'':<18} {f['description']}")
    if data["connection_fields"]:
        print("\nconnection fields (not required with `connection`):")
        for name, policy in data["connection_fields"].items():
            print(f"  {name:<18} override {policy}")
    if data["constraints"]:
        print("\nconstraints:")
        for message in data["constraints"]:
            print(f"  - {message}")
    if data["example"] is not None:
        print("\nexample config:")
        for key, value in data["example"].items():
            print(f"  {key}: {json.dumps(value)}")
    return 0
