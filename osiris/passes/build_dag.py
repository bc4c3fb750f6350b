"""build_dag: effective dependencies, the execution order, and the SQL names each step sees its inputs under.

- Effective ``needs``: the explicit list (duplicates dropped); without ``needs``, a ``transform``/``write`` step
  depends on the step just above it and a ``read`` step is a root (docs/oml.md); ``needs: []`` is a root.
  ``Step.needs`` is set to the effective tuple.
- ``Pipeline.order``: a topological order (graphlib); among ready steps the one earliest in the file goes first.
- ``Step.inputs`` (transform and write steps): one ``Input(step, "df_<sanitized id>")`` per dependency, in
  ``needs`` order, plus ``input_df`` when there is exactly one. Two dependencies whose ids sanitize to the same
  name are numbered by source order (``df_a_b``, ``df_a_b_2``) with warning OSR-W130.

Before: ``[read a, transform b (no needs), write c (needs [b])]`` -> needs ``a: ()``, ``b: (a,)``, ``c: (b,)``,
order ``(a, b, c)``, ``b.inputs = (Input(a, df_a), Input(a, input_df))``.
Unknown needs, self references and cycles are the OML frontend's errors; IR built another way still gets them
here (OSR-E130..E132) instead of a crash. A write step with more than one dependency is OSR-E135 (a writer writes
one stream).
"""

from __future__ import annotations

import graphlib
import heapq
import re
from collections.abc import Collection

import attrs

from osiris.components.registry import MODE_ALIASES
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, did_you_mean, error, warning
from osiris.ir.span import Span
from osiris.passes.base import PassContext, PassResult

CONSUMING_MODES = frozenset({"transform", "write"})


def sql_name(step_id: str) -> str:
    """``df_`` + the id with every character outside ``[A-Za-z0-9_]`` replaced by ``_`` (leading digit: ``_``)."""
    body = re.sub(r"[^A-Za-z0-9_]", "_", step_id)
    if body[:1].isdigit():
        body = "_" + body
    return f"df_{body}"


def consumes_input(step: nodes.Step) -> bool:
    return MODE_ALIASES.get(step.mode, step.mode) in CONSUMING_MODES


def effective_needs(pipeline: nodes.Pipeline, broken: Collection[str] = ()) -> dict[str, tuple[str, ...]]:
    """Step id -> its dependencies, by the rules above (first step with a given id wins). A ``broken`` step (found
    broken before; passes/poison.py) is a root: what it needs is not checked, what needs it still does."""
    result: dict[str, tuple[str, ...]] = {}
    previous: nodes.Step | None = None
    for step in pipeline.steps:
        if step.id not in result:
            if step.id in broken:
                result[step.id] = ()
            elif step.needs is not None:
                result[step.id] = tuple(dict.fromkeys(step.needs))
            elif consumes_input(step) and previous is not None:
                result[step.id] = (previous.id,)
            else:
                result[step.id] = ()
        previous = step
    return result


def _need_span(step: nodes.Step, need: str) -> Span | None:
    if step.needs is not None and need in step.needs:
        i = step.needs.index(need)
        if i < len(step.needs_spans) and step.needs_spans[i] is not None:
            return step.needs_spans[i]
    return step.id_span or step.span


def _order(ids: list[str], needs: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Topological order, ties broken by source position (raises graphlib.CycleError)."""
    position = {sid: i for i, sid in enumerate(ids)}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for sid in ids:
        sorter.add(sid, *needs[sid])
    sorter.prepare()
    ready: list[tuple[int, str]] = []
    order: list[str] = []
    while sorter.is_active():
        for sid in sorter.get_ready():
            heapq.heappush(ready, (position[sid], sid))
        _, sid = heapq.heappop(ready)
        order.append(sid)
        sorter.done(sid)
    return tuple(order)


def _inputs(step: nodes.Step, deps: tuple[str, ...], position: dict[str, int]) -> tuple[list[nodes.Input], str | None]:
    """The SQL inputs of one step and, when names clashed, the warning text."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    clashes: dict[str, list[str]] = {}
    for dep in sorted(deps, key=lambda d: position.get(d, len(position))):
        base = name = sql_name(dep)
        n = 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[dep] = name
        clashes.setdefault(base, []).append(dep)
    inputs = [nodes.Input(dep, names[dep]) for dep in deps]
    if len(deps) == 1:
        inputs.append(nodes.Input(deps[0], "input_df"))
    clashing = [group for group in clashes.values() if len(group) > 1]
    if not clashing:
        return inputs, None
    parts = [", ".join(f"'{dep}' is {names[dep]}" for dep in group) for group in clashing]
    return inputs, "; ".join(parts)


def _several_writer_inputs(step: nodes.Step, deps: tuple[str, ...]) -> Diagnostic:
    """A writer writes one stream (every writer driver takes a single input); with several the run could only fail
    (Osiris's writers silently write the first)."""
    listed = ", ".join(f"'{d}'" for d in deps)
    return error(
        "OSR-E135",
        f"write step '{step.id}' has {len(deps)} inputs ({listed}): a writer writes exactly one",
        _need_span(step, deps[1]),
        "combine them in a duckdb.processor transform (JOIN or UNION ALL) and write its result",
    )


def build_dag(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    """Set effective ``needs``, ``Pipeline.order`` and ``Step.inputs``; report graph errors."""
    ids, diags = _unique_ids(pipeline)
    duplicates = bool(diags)  # no graph can be built (the OML and text frontends report them first)
    needs = effective_needs(pipeline, ctx.skip)
    broken = _check_needs(pipeline, ctx.skip, set(ids), needs, diags)
    if duplicates:
        return PassResult(pipeline, tuple(diags))
    try:
        order = _order(ids, needs)
    except graphlib.CycleError as exc:
        # (the frontends report cycles first: not attributed to a step)
        return PassResult(pipeline, (*diags, _cycle_error(pipeline, ids, exc)))
    position = {sid: i for i, sid in enumerate(ids)}
    steps = [
        _with_inputs(step, needs[step.id], position, skip=ctx.skip, broken=broken, diags=diags)
        for step in pipeline.steps
    ]
    return PassResult(attrs.evolve(pipeline, steps=tuple(steps), order=order), tuple(diags), frozenset(broken))


def _unique_ids(pipeline: nodes.Pipeline) -> tuple[list[str], list[Diagnostic]]:
    """The step ids in file order, each once, and OSR-E134 for every repeated one."""
    diags: list[Diagnostic] = []
    ids: list[str] = []
    known: set[str] = set()  # the ids so far (a set: a list lookup made this quadratic)
    for step in pipeline.steps:
        if step.id in known:
            diags.append(error("OSR-E134", f"duplicate step id '{step.id}'", step.id_span or step.span))
        else:
            ids.append(step.id)
            known.add(step.id)
    return ids, diags


def _check_needs(
    pipeline: nodes.Pipeline,
    skip: Collection[str],
    known: set[str],
    needs: dict[str, tuple[str, ...]],
    diags: list[Diagnostic],
) -> set[str]:
    """OSR-E131 for a step that needs itself, OSR-E130 for an unknown need; such a step is broken and becomes a
    root in ``needs`` (the steps that need it are still checked). Returns the broken steps."""
    broken: set[str] = set()
    for step in pipeline.steps:
        if step.id in skip:
            continue
        for need in step.needs or ():
            if need == step.id:
                diags.append(error("OSR-E131", f"step '{step.id}' needs itself", _need_span(step, need)))
            elif need not in known:
                hint = did_you_mean(need, known)
                diags.append(
                    error(
                        "OSR-E130",
                        f"step '{step.id}' needs unknown step '{need}'",
                        _need_span(step, need),
                        *([hint] if hint else []),
                    )
                )
            else:
                continue
            broken.add(step.id)
            needs[step.id] = ()
    return broken


def _cycle_error(pipeline: nodes.Pipeline, ids: list[str], exc: graphlib.CycleError) -> Diagnostic:
    """OSR-E132 naming the cycle from its step earliest in the file, at that step's need of the next one."""
    # graphlib lists each node before the ones that need it; reversed, each step needs the next one.
    cycle: list[str] = list(reversed(exc.args[1]))[:-1]
    first = min(cycle, key=ids.index)
    start = cycle.index(first)
    cycle = cycle[start:] + cycle[:start]
    head = pipeline.step(first)
    assert head is not None
    path = " -> ".join([*cycle, first])
    span = _need_span(head, cycle[1] if len(cycle) > 1 else first)
    return error("OSR-E132", f"steps depend on each other in a cycle: {path}", span, "read 'a -> b' as 'a needs b'")


def _with_inputs(
    step: nodes.Step,
    deps: tuple[str, ...],
    position: dict[str, int],
    *,
    skip: Collection[str],
    broken: set[str],
    diags: list[Diagnostic],
) -> nodes.Step:
    """The step with its effective needs and SQL inputs. A transform or write step without input (OSR-E133) or a
    writer with several (OSR-E135) is added to ``broken``; inputs whose SQL names clash get OSR-W130."""
    inputs: list[nodes.Input] = []
    if consumes_input(step) and step.id not in skip and step.id not in broken:
        if not deps:
            why = "it is the first step" if step.needs is None else "its `needs` is empty"
            diags.append(
                error(
                    "OSR-E133",
                    f"{step.mode} step '{step.id}' has no input: {why}",
                    step.mode_span or step.id_span or step.span,
                    "list the steps it reads from in `needs`",
                )
            )
            broken.add(step.id)  # its config is still validated; its schema is not inferred
        elif MODE_ALIASES.get(step.mode, step.mode) == "write" and len(deps) > 1:
            diags.append(_several_writer_inputs(step, deps))
            broken.add(step.id)
        inputs, clash = _inputs(step, deps, position)
        if clash:
            diags.append(
                warning(
                    "OSR-W130",
                    f"inputs of step '{step.id}' have the same SQL name; {clash}",
                    step.id_span or step.span,
                )
            )
    return attrs.evolve(step, needs=deps, inputs=tuple(inputs))
