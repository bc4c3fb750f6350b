"""The local backend: writes the build directory (docs/plan-format.md) that the runtime executes.

Files: ``plan.json``, ``steps/<id>.json`` (each step's effective config; secrets only as ``$secret`` markers),
``requirements.txt`` (pinned, from collect_requirements), ``fingerprints.json`` and, when any writer has a write
plan, ``ddl.sql``. All canonical JSON with a trailing newline, written atomically; no timestamps, no absolute
paths. Files a previous build left in ``steps/`` (or a ``ddl.sql`` no longer planned) are removed, so the folder
is a function of the inputs.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.backends.local.plan import build_plan
from osiris.canonical import dumps_file, sha256, write_many
from osiris.ir import nodes

if TYPE_CHECKING:
    from osiris.compile import CompileResult

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def file_stem(name: str) -> str:
    """A file name for a step id or pipeline name: itself when safe, else sanitized plus a short hash (unique)."""
    if _SAFE.match(name) and name not in (".", ".."):
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") + "-" + digest


def ddl_text(plan: dict[str, Any]) -> str | None:
    """The statements of every SQL write plan, in step order, as one reviewable file (None when there are none).

    Statements are what the writer runs around its bulk load, in one transaction (docs/ddl.md); the file is for
    review and is not executed as such."""
    chunks = []
    for step in plan["steps"]:
        write = step.get("write")
        if not write or write.get("dialect") == "csv":  # a CSV file has no DDL
            continue
        target = (write.get("target") or {}).get("qualified") or step["id"]
        head = f"-- step {step['id']}: {write.get('mode')} into {target} ({write.get('dialect')})"
        statements = write.get("statements")
        if statements is None:
            chunks.append(f"{head}\n-- columns unknown until run time: the writer plans the DDL then\n")
            continue
        body = [f"{s.rstrip().rstrip(';')};" for s in statements.get("prepare", [])]
        body.append("-- bulk load into " + str((write.get("load_table") or {}).get("qualified") or target))
        body += [f"{s.rstrip().rstrip(';')};" for s in statements.get("finalize", [])]
        chunks.append(head + "\n" + "\n".join(body) + "\n")
    return "\n".join(chunks) if chunks else None


def packages(compiled: CompileResult) -> list[str]:
    """The pinned packages (collect_requirements): requirements.txt's lines."""
    product = compiled.ctx.products.collect_requirements if compiled.ctx else None
    return list(product.packages if product else ())


def fingerprints(compiled: CompileResult, plan: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint pass's hashes plus ``plan``, the hash of the plan data written (fingerprints.json)."""
    product = compiled.ctx.products.fingerprint if compiled.ctx else None
    return {**(product.hashes if product else {}), "plan": sha256(plan)}


class LocalBackend:
    name = "local"

    def emit(self, compiled: CompileResult, out_dir: Path) -> list[str]:
        pipeline, ctx = compiled.pipeline, compiled.ctx
        if pipeline is None or ctx is None or compiled.failed:
            raise ValueError("emit needs a pipeline compiled without errors")
        plan = build_plan(pipeline, ctx)
        files: dict[str, str] = {"plan.json": dumps_file(plan)}
        for step in pipeline.steps:
            files[f"steps/{file_stem(step.id)}.json"] = dumps_file(nodes.data(step.config))
        header = "# Pinned by osirisc from osiris/runtime/requirements.lock: the runtime and the components used.\n"
        files["requirements.txt"] = header + "".join(f"{p}\n" for p in packages(compiled))
        files["fingerprints.json"] = dumps_file(fingerprints(compiled, plan))
        ddl = ddl_text(plan)
        if ddl is not None:
            files["ddl.sql"] = ddl
        write_many(out_dir, dict(sorted(files.items())))
        stale = [p for p in sorted((out_dir / "steps").glob("*.json")) if f"steps/{p.name}" not in files]
        if ddl is None:
            stale.append(out_dir / "ddl.sql")
        for path in stale:
            path.unlink(missing_ok=True)
        return sorted(files)
