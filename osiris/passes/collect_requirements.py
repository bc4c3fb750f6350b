"""collect_requirements: the exact Python distributions a build needs at run time.

Roots are the runtime's own distributions (``RUNTIME_PACKAGES``: what ``osiris.runtime`` and ``osiris.dialects``
import at module level) plus each used component's ``x-runtime.requirements.packages``. Each is pinned from
``osiris/runtime/requirements.lock`` (``name==version  # via parent, ...``, written from the dev venv by
``tools/lock_requirements.py``), and their dependencies come along through the lock's ``via`` edges, so a
build's ``requirements.txt`` is the closed set the test suite ran with.

Before: steps using ``mysql.extractor`` and ``postgres.writer`` -> product ``Requirements(packages=("attrs==…",
"psycopg[binary]==…", "psycopg-binary==…", "pymysql==…", "pyarrow==…", ...), by_component={"mysql.extractor":
("pymysql==…", "pyarrow==…"), ...})`` (sorted by normalized name).
A package missing from the lock is OSR-E145 (regenerate the lock).
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import attrs

from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, error
from osiris.passes.base import PassContext, PassResult, Requirements

# Distributions osiris.runtime / osiris.dialects import at module level (tests/test_requirements_lock.py checks).
RUNTIME_PACKAGES: tuple[str, ...] = ("attrs", "pyarrow", "PyYAML", "rich")

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirement(text: str) -> tuple[str, str]:
    """``"psycopg[binary]>=3"`` -> (``"psycopg"``, ``"[binary]"``); the version part is ignored (the lock pins)."""
    match = _REQ.match(text)
    if match is None:
        raise ValueError(f"not a requirement: {text!r}")
    extras = match.group(2) or ""
    if extras:
        extras = "[" + ",".join(sorted(e.strip() for e in extras[1:-1].split(",") if e.strip())) + "]"
    return match.group(1), extras


@attrs.frozen
class Lock:
    """The parsed lock: normalized name -> (name as written, version), and name -> the names it is needed via."""

    pins: dict[str, tuple[str, str]]
    via: dict[str, tuple[str, ...]]

    def closure(self, roots: set[str]) -> set[str]:
        """Roots plus everything the lock says is needed via something in the set (normalized names)."""
        needed = set(roots)
        changed = True
        while changed:
            changed = False
            for name, parents in self.via.items():
                if name not in needed and any(normalize(p) in needed for p in parents):
                    needed.add(name)
                    changed = True
        return needed


def parse_lock(text: str) -> Lock:
    pins: dict[str, tuple[str, str]] = {}
    via: dict[str, tuple[str, ...]] = {}
    for raw in text.splitlines():
        line, _, comment = raw.partition("#")
        line = line.strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"requirements.lock: not 'name==version': {raw!r}")
        key = normalize(name.strip())
        pins[key] = (name.strip(), version.strip())
        comment = comment.strip()
        if comment.startswith("via "):
            via[key] = tuple(p.strip() for p in comment[4:].split(",") if p.strip())
    return Lock(pins, via)


@functools.cache
def load_lock() -> Lock:
    return parse_lock(resources.files("osiris.runtime").joinpath("requirements.lock").read_text(encoding="utf-8"))


def collect_requirements(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    """Pin the runtime's and the used components' distributions (with dependencies) from the lock."""
    lock = load_lock()
    diags: list[Diagnostic] = []
    roots: dict[str, str] = {}  # normalized name -> extras
    by_component: dict[str, list[str]] = {}

    def pin(requirement: str, owner: str, span: object) -> str | None:
        name, extras = split_requirement(requirement)
        key = normalize(name)
        if key not in lock.pins:
            diags.append(
                error(
                    "OSR-E145",
                    f"package '{name}' needed by {owner} is not in requirements.lock",
                    span if isinstance(span, nodes.Span) else None,
                    "regenerate it: .venv/bin/python tools/lock_requirements.py",
                )
            )
            return None
        roots[key] = max(roots.get(key, ""), extras, key=len)
        written, version = lock.pins[key]
        return f"{written}{extras}=={version}"

    for package in RUNTIME_PACKAGES:
        pin(package, "the runtime", None)
    for component in sorted({s.component for s in pipeline.steps}):
        spec = ctx.registry.get(component)
        if spec is None:
            continue  # bind_components reports unknown components
        span = next(s.component_span for s in pipeline.steps if s.component == component)
        pinned = [pin(p, f"component '{component}'", span) for p in spec.packages]
        by_component[component] = sorted(p for p in pinned if p is not None)
    packages = []
    for key in sorted(lock.closure(set(roots))):
        written, version = lock.pins[key]
        packages.append(f"{written}{roots.get(key, '')}=={version}")
    product = Requirements(tuple(packages), {k: tuple(v) for k, v in by_component.items()})
    return PassResult(pipeline, tuple(diags), product=product)
