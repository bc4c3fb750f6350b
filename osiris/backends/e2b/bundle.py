"""The bundle: one byte-reproducible ``.tar.gz`` holding what a sandbox needs to run a compiled plan.

Contents (paths inside the archive)::

    entrypoint.py            verify -> install -> check imports -> run (osiris/backends/e2b/entrypoint.py)
    plan.json                the plan, as the local backend writes it
    steps/<id>.json          each step's effective config (secrets only as $secret markers)
    requirements.txt         exact pins from osiris/runtime/requirements.lock: runtime + used components only
    fingerprints.json        the compiler's fingerprints (plan, registry, requirements, ...)
    drivers.json             per used component: driver, carried spec, sha256 of the driver module
    specs/<component>.json   each used component's spec document (its hash is the plan's spec_sha256)
    osiris/...               osiris.runtime, osiris.dialects, the used drivers and the osiris modules they import
    SHA256SUMS               sha256 of every other file

The code is the import closure of the runtime and the drivers inside the ``osiris`` package (by reading their
``import`` statements), so a driver that needs another component's module brings it along; a closure that
reaches the compiler (frontend, ir, passes, backends, cli, ...) is refused. Nothing depends on time, cwd or
the machine beyond the source files themselves.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import osiris
from osiris.backends.e2b import entrypoint
from osiris.backends.e2b.tarball import write_tar_gz
from osiris.backends.local import file_stem, fingerprints, packages
from osiris.backends.local.plan import build_plan
from osiris.canonical import dumps_file
from osiris.ir import nodes

if TYPE_CHECKING:
    from osiris.compile import CompileResult

PACKAGE_ROOT = Path(osiris.__file__).resolve().parent
RUNTIME_PACKAGES = ("osiris.runtime", "osiris.dialects")
COMPILER_MODULES = (
    "osiris.frontend",
    "osiris.ir",
    "osiris.passes",
    "osiris.backends",
    "osiris.cli",
    "osiris.compile",
    "osiris.canonical",
    "osiris.render",
    "osiris.components.registry",
)
REQUIREMENTS_HEADER = (
    "# Pinned by osirisc from osiris/runtime/requirements.lock: the runtime and the components used.\n"
)


class BundleBuildError(Exception):
    """A pipeline that cannot be bundled (a driver that cannot be found or that imports the compiler)."""


def _module_file(name: str) -> Path | None:
    """The source file of an ``osiris.*`` module or package, or None when there is none."""
    if name == "osiris":
        return PACKAGE_ROOT / "__init__.py"
    rel = Path(*name.split(".")[1:])
    for candidate in (PACKAGE_ROOT / rel.with_suffix(".py"), PACKAGE_ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path, module: str) -> set[str]:
    """``osiris.*`` modules a file imports (``from a import b`` counts ``a.b`` when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}") is not None)
    return {n for n in found if n == "osiris" or n.startswith("osiris.")}


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def code_closure(roots: list[str]) -> dict[str, Path]:
    """Archive path -> source file for the modules ``roots`` import, transitively, inside ``osiris``."""
    todo = list(roots)
    for package in RUNTIME_PACKAGES:
        base = PACKAGE_ROOT / package.split(".")[1]
        todo += [
            ".".join(("osiris", *p.relative_to(base.parent).with_suffix("").parts)).removesuffix(".__init__")
            for p in sorted(base.rglob("*.py"))
        ]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if any(name == bad or name.startswith(bad + ".") for bad in COMPILER_MODULES):
            raise BundleBuildError(f"module '{name}' belongs to the compiler and cannot go into a bundle")
        path = _module_file(name)
        if path is None:
            continue  # a name imported from a module (a class), not a module itself
        seen[name] = path
        todo += _parents(name) + sorted(_imported(path, name))
    return {p.relative_to(PACKAGE_ROOT.parent).as_posix(): p for p in sorted(seen.values())}


def _driver_module(driver: str) -> str:
    module, sep, _ = driver.partition(":")
    return module if sep else driver.rpartition(".")[0]


def _external_driver_files(module: str) -> dict[str, Path]:
    """A driver outside the osiris package: its module file and its packages' ``__init__.py``."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise BundleBuildError(f"driver module '{module}' cannot be found as a Python source file")
    origin = Path(spec.origin)
    depth = module.count(".") + (1 if origin.name == "__init__.py" else 0)
    top = origin.parents[depth]
    files = {origin.relative_to(top).as_posix(): origin}
    for parent in _parents(module):
        init = top / Path(*parent.split(".")) / "__init__.py"
        if init.is_file():
            files[init.relative_to(top).as_posix()] = init
    return files


def bundle_files(
    plan: dict[str, Any],
    step_configs: dict[str, Any],
    packages: list[str],
    fingerprints: dict[str, Any],
    specs: dict[str, Any],
) -> dict[str, bytes]:
    """Every file of the bundle (path -> bytes), SHA256SUMS included."""
    files: dict[str, str | bytes] = {
        "plan.json": dumps_file(plan),
        "requirements.txt": REQUIREMENTS_HEADER + "".join(f"{p}\n" for p in packages),
        "fingerprints.json": dumps_file(fingerprints),
        "entrypoint.py": Path(entrypoint.__file__).read_bytes(),
    }
    for sid, config in step_configs.items():
        files[f"steps/{file_stem(sid)}.json"] = dumps_file(config)
    osiris_roots: list[str] = []
    drivers: dict[str, Any] = {}
    code: dict[str, Path] = {}
    for name, entry in sorted((plan.get("registry") or {}).items()):
        module = _driver_module(entry["driver"])
        own = _external_driver_files(module) if not module.startswith("osiris.") else {}
        if module.startswith("osiris."):
            osiris_roots.append(module)
            path = _module_file(module)
            if path is None:
                raise BundleBuildError(f"component '{name}': driver module '{module}' does not exist")
            own = {path.relative_to(PACKAGE_ROOT.parent).as_posix(): path}
        code.update(own)
        files[f"specs/{file_stem(name)}.json"] = dumps_file(specs[name])
        drivers[name] = {
            "driver": entry["driver"],
            "spec": f"specs/{file_stem(name)}.json",
            "files": {rel: entrypoint.file_sha256(p) for rel, p in sorted(own.items())},
        }
    code.update(code_closure(osiris_roots))
    files["drivers.json"] = dumps_file(drivers)
    for rel, path in sorted(code.items()):
        files[rel] = path.read_bytes()
    data = {p: v.encode("utf-8") if isinstance(v, str) else v for p, v in files.items()}
    data[entrypoint.SUMS] = entrypoint.format_sums(data).encode("utf-8")
    return data


def build_bundle(compiled: CompileResult) -> bytes:
    """The ``.tar.gz`` bytes for a pipeline compiled without errors."""
    pipeline, ctx = compiled.pipeline, compiled.ctx
    if pipeline is None or ctx is None or compiled.failed:
        raise ValueError("a bundle needs a pipeline compiled without errors")
    plan = build_plan(pipeline, ctx)
    specs = {}
    for name in plan["registry"]:
        spec = ctx.registry.get(name)
        assert spec is not None
        specs[name] = spec.raw
    files = bundle_files(
        plan,
        {s.id: nodes.data(s.config) for s in pipeline.steps},
        packages(compiled),
        fingerprints(compiled, plan),
        specs,
    )
    return write_tar_gz(files, executable=("entrypoint.py",))


def bundle_name(pipeline_name: str) -> str:
    return f"{file_stem(pipeline_name)}.bundle.tar.gz"
