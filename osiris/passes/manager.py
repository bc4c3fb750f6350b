"""The pass pipeline: one explicit ordered tuple, run with verification between passes.

``PASSES`` lists ``(name, loader)`` in order; a loader imports its module on first use. The key of each pass
equals its function's name with ``_`` replaced by ``-`` (tests/test_passes_registry.py checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from osiris.ir import Diagnostic, Pipeline
from osiris.ir.diagnostics import error, has_errors
from osiris.ir.verify import Memo, verify
from osiris.passes.base import Pass, PassContext, PassResult


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
) -> PassResult:
    """Run the passes in order, stopping after the first that reports an error (later passes assume valid IR).

    ``until`` stops after the named pass; ``after(name, ir)`` is called after each pass (``--print-ir-after``).
    The IR is verified after every pass (osiris/ir/verify.py); a failure there is a compiler bug (OSR-E009).
    """
    diagnostics: list[Diagnostic] = []
    done: list[str] = []
    memo: Memo = {}
    for name, load in PASSES.items():
        result = load()(pipeline, ctx)
        diagnostics += result.diagnostics
        if has_errors(result.diagnostics):
            return PassResult(pipeline, tuple(diagnostics))
        done.append(name)
        problems = verify(result.pipeline, done, memo)
        if problems:
            diagnostics.append(
                error("OSR-E009", f"internal compiler error: pass '{name}' produced invalid IR", None, *problems)
            )
            return PassResult(pipeline, tuple(diagnostics))
        pipeline = result.pipeline
        if after is not None:
            after(name, pipeline)
        if name == until:
            break
    return PassResult(pipeline, tuple(diagnostics))
