"""The pass pipeline: one explicit ordered tuple, run with verification between passes; broken steps are skipped by
the passes that rely on what broke them (passes/poison.py), so one run reports every independent problem.

``PASSES`` lists ``(name, loader)`` in order; a loader imports its module on first use. The key of each pass
equals its function's name with ``_`` replaced by ``-`` (tests/test_passes_registry.py checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

import attrs

from osiris.ir import Diagnostic, Pipeline
from osiris.ir.diagnostics import error, has_errors
from osiris.ir.verify import Memo, verify
from osiris.passes.base import Pass, PassContext, PassResult
from osiris.passes.poison import FRONTEND, Poison, runs_on_broken


def _lazy(module: str) -> Callable[[], Pass]:
    def load() -> Pass:
        mod = importlib.import_module(f"osiris.passes.{module}")
        fn: Pass = getattr(mod, module)
        return fn

    return load


# The order is the contract (docs/design.md). Later passes may rely on what earlier ones established.
PASS_NAMES: tuple[str, ...] = (
    "resolve_params",
    "bind_components",
    "build_dag",
    "validate_config",
    "redact_secrets",
    "infer_schemas",
    "plan_ddl",
    "check_incremental",
    "plan_exports",
    "collect_requirements",
    "fingerprint",
)

PASSES: dict[str, Callable[[], Pass]] = {name.replace("_", "-"): _lazy(name) for name in PASS_NAMES}


def run_passes(
    pipeline: Pipeline,
    ctx: PassContext,
    *,
    until: str | None = None,
    after: Callable[[str, Pipeline], None] | None = None,
    broken: Iterable[str] = (),
) -> PassResult:
    """Run the passes in order; report every independent problem (passes/poison.py), never a consequence of one.

    ``broken`` are the steps the frontend found broken. A pass that reports errors marks the steps they are in;
    later passes skip the steps broken by a stage they rely on (``ctx.skip``) and check the others. A pass whose
    errors are not attributed to steps stops the compile after it, and once anything is broken only the passes
    that know about broken steps still run (the plan is never built). The result's ``broken`` lists every broken
    step. ``until`` stops after the named pass; ``after(name, ir)`` is called after each pass
    (``--print-ir-after``). Each pass sees the products of those before it in ``ctx.products``; the result's
    ``product`` is all of them (``Products``). The IR is verified after every pass (osiris/ir/verify.py), except
    for the invariants a broken step cannot keep; a failure there is a compiler bug (OSR-E009).
    """
    diagnostics: list[Diagnostic] = []
    done: list[str] = []
    memo: Memo = {}
    poison = Poison().add(FRONTEND, broken)
    for name, load in PASSES.items():
        if poison and not runs_on_broken(name):
            break
        skip = poison.skipped_by(name)
        result = load()(pipeline, attrs.evolve(ctx, skip=skip) if skip or ctx.skip else ctx)
        diagnostics += result.diagnostics
        if has_errors(result.diagnostics) and not result.broken:  # not attributed to steps: stop here
            return PassResult(pipeline, tuple(diagnostics), frozenset(poison.broken), product=ctx.products)
        poison = poison.add(name, result.broken or ())
        done.append(name)
        problems = verify(result.pipeline, done, memo, poison.unverified())
        if problems:
            diagnostics.append(
                error("OSR-E009", f"internal compiler error: pass '{name}' produced invalid IR", None, *problems)
            )
            return PassResult(pipeline, tuple(diagnostics), frozenset(poison.broken), product=ctx.products)
        pipeline = result.pipeline
        ctx = attrs.evolve(ctx, products=ctx.products.merged(name, result.product))
        if after is not None:
            after(name, pipeline)
        if name == until:
            break
    return PassResult(pipeline, tuple(diagnostics), frozenset(poison.broken), product=ctx.products)
