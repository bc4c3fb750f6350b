"""The Ray backend: the same plan.json, each step in Ray actors, Arrow batches through Ray's object store.

``osirisc run FILE --target ray [--address ADDR]`` runs a plan on a Ray cluster (a local one started for the run
when no address is given) with the run record a local run writes (scheduler.py); ``osirisc emit FILE --target ray``
writes the build directory plus ``ray-runtime-env.json``, the runtime environment a cluster's workers need (the
plan's pinned requirements as ``pip``). Ray is an optional extra: ``pip install 'osirisc[ray]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.backends.local.plan import build_plan
from osiris.canonical import dumps_file, write_many

if TYPE_CHECKING:
    from osiris.compile import CompileResult

RUNTIME_ENV_FILE = "ray-runtime-env.json"


def runtime_env(packages: list[str]) -> dict[str, Any]:
    """What a cluster's workers install: the plan's pinned requirements (osiris/runtime/requirements.lock via the
    collect_requirements pass). The osiris package itself is shipped by the launcher (``py_modules``)."""
    return {"pip": sorted(packages)}


class RayBackend:
    name = "ray"

    def emit(self, compiled: CompileResult, out_dir: Path) -> list[str]:
        from osiris.backends.local import LocalBackend, packages

        pipeline, ctx = compiled.pipeline, compiled.ctx
        if pipeline is None or ctx is None or compiled.failed:
            raise ValueError("emit needs a pipeline compiled without errors")
        written = LocalBackend().emit(compiled, out_dir)
        plan = build_plan(pipeline, ctx)
        from osiris.backends.ray.partition import spec_of

        partitions = {
            s["id"]: dict(zip(("column", "count"), spec, strict=True)) for s in plan["steps"] if (spec := spec_of(s))
        }
        doc = {"runtime_env": runtime_env(packages(compiled)), "partitions": partitions}
        write_many(out_dir, {RUNTIME_ENV_FILE: dumps_file(doc)})
        return sorted([*written, RUNTIME_ENV_FILE])
