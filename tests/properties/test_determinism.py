"""Determinism: `osirisc build` and `osirisc emit --target e2b` of generated pipelines give identical bytes under a
different cwd, TZ, locale and PYTHONHASHSEED; and the E2B bundle carries the local build's plan and step configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from osiris.testing.pipelines import GeneratedPipeline, valid_pipelines

OSIRISC = [sys.executable, "-c", "import sys; from osiris.cli import entry; sys.exit(entry())"]
_EXAMPLES = (
    3 if settings.default is None or settings.default.max_examples <= 100 else 60
)  # every example costs 4 subprocesses
VARIANTS = (
    {"TZ": "UTC", "LC_ALL": "C.utf8", "LANG": "C.utf8", "PYTHONHASHSEED": "0"},
    {"TZ": "Pacific/Chatham", "LC_ALL": "C", "LANG": "C", "PYTHONHASHSEED": "4242"},
)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _build_and_emit(g: GeneratedPipeline, pipeline: Path, out: Path, cwd: Path, variant: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "HYPOTHESIS"))}
    env.update(variant, **g.env)
    for cmd in (["build", "-o", str(out / "build")], ["emit", "--target", "e2b", "-o", str(out / "emit")]):
        argv = [*OSIRISC, *cmd, str(pipeline)]
        done = subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_pipelines())
def test_build_and_emit_are_byte_identical_across_environments(g: GeneratedPipeline) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        pipeline = g.write_to(root / "src").resolve()
        outs = []
        for i, (variant, cwd) in enumerate(zip(VARIANTS, (root, pipeline.parent), strict=True)):
            out = root / f"out{i}"
            _build_and_emit(g, pipeline, out, cwd, variant)
            outs.append(_files(out))
        first, second = outs
        assert first.keys() == second.keys()
        for name in first:
            assert first[name] == second[name], f"{name} differs between environments"

        build = root / "out0" / "build"
        bundles = list((root / "out0" / "emit").glob("*.tar.gz"))
        assert len(bundles) == 1
        with tarfile.open(bundles[0]) as tar:
            inner = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        local_plan = json.loads((build / "plan.json").read_bytes())
        steps = {p.name: json.loads(p.read_bytes()) for p in build.glob("steps/*.json")}
    assert json.loads(inner["plan.json"]) == local_plan, "the bundle's plan is not the local build's"
    dag = {s["id"]: sorted(s.get("needs", [])) for s in local_plan["steps"]}
    assert set(dag) == {s.id for s in g.pipeline.steps}
    assert steps
    for name, config in steps.items():
        assert json.loads(inner[f"steps/{name}"]) == config, name
