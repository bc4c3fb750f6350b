"""The DAG rules the OML frontend checks: duplicate ids, unknown and self references in ``needs``, cycles.

The ``build_dag`` pass may rely on these holding: OSR-E029 (duplicate id), OSR-E030 (unknown need), OSR-E031
(self reference) and OSR-E032 (cycle) are reported here only. Cycles include the implicit edge of docs/oml.md (a
``transform``/``write`` step without ``needs`` depends on the step above it).
"""

from __future__ import annotations

import attrs

from osiris.frontend.yaml_nodes import Doc
from osiris.ir.diagnostics import did_you_mean
from osiris.ir.span import Span

CONSUMING_MODES = ("transform", "write")


@attrs.frozen
class StepRefs:
    """What the DAG checks need to know of one step."""

    id: str
    id_span: Span
    mode: str | None
    needs: tuple[str, ...] | None
    needs_spans: tuple[Span, ...]


@attrs.frozen
class Edge:
    """``source needs target``: written in ``needs`` (explicit) or the implicit step-above rule."""

    target: str
    span: Span
    explicit: bool


def check_dag(doc: Doc, steps: list[StepRefs]) -> set[str]:
    """Report every duplicate id, unknown or self reference, and each cycle once; return the ids on cycles."""
    first: dict[str, StepRefs] = {}
    for step in steps:
        if step.id in first:
            doc.error(
                "OSR-E029",
                f"duplicate step id '{step.id}'",
                step.id_span,
                f"'{step.id}' is first defined at {first[step.id].id_span}",
            )
        else:
            first[step.id] = step
    edges: dict[str, list[Edge]] = {sid: [] for sid in first}
    for index, step in enumerate(steps):
        if first[step.id] is not step:
            continue
        if step.needs is None:
            if step.mode in CONSUMING_MODES and index > 0:
                edges[step.id].append(Edge(steps[index - 1].id, step.id_span, explicit=False))
            continue
        for need, span in zip(step.needs, step.needs_spans, strict=True):
            if need == step.id:
                doc.error("OSR-E031", f"step '{step.id}' needs itself", span)
            elif need not in first:
                hint = did_you_mean(need, first)
                doc.error("OSR-E030", f"step '{step.id}' needs unknown step '{need}'", span, *([hint] if hint else []))
            elif all(need != edge.target for edge in edges[step.id]):
                edges[step.id].append(Edge(need, span, explicit=True))
    return _report_cycles(doc, list(first), edges)


def _report_cycles(doc: Doc, order: list[str], edges: dict[str, list[Edge]]) -> set[str]:
    """Peel off steps that cannot be on a cycle; walk the rest to find cycles, one report per cycle, placed at the
    first explicit ``needs`` entry of the cycle. Returns the ids on the cycles reported."""
    alive = set(order)
    on_cycles: set[str] = set()
    while True:
        _peel(alive, edges)
        if not alive:
            return on_cycles
        start = next(sid for sid in order if sid in alive)
        path = [start]
        taken: list[Edge] = []
        while True:
            edge = next(e for e in edges[path[-1]] if e.target in alive)
            if edge.target in path:
                at = path.index(edge.target)
                cycle, cycle_edges = [*path[at:], edge.target], [*taken[at:], edge]
                where = next((e for e in cycle_edges if e.explicit), cycle_edges[-1])
                notes = ["each step needs the next one; remove one of these needs"]
                notes += [
                    f"'{source}' has no needs, so it depends on the step above it, '{e.target}'"
                    for source, e in zip(cycle, cycle_edges, strict=False)
                    if not e.explicit
                ]
                doc.error("OSR-E032", f"dependency cycle: {' -> '.join(cycle)}", where.span, *notes)
                alive -= set(cycle)
                on_cycles |= set(cycle)
                break
            taken.append(edge)
            path.append(edge.target)


def _peel(alive: set[str], edges: dict[str, list[Edge]]) -> None:
    """Remove the steps that cannot be on a cycle: repeatedly, those with no dependency left among ``alive``."""
    remaining = {sid: sum(e.target in alive for e in edges[sid]) for sid in alive}
    users: dict[str, list[str]] = {sid: [] for sid in alive}
    for sid in alive:
        for edge in edges[sid]:
            if edge.target in alive:
                users[edge.target].append(sid)
    ready = [sid for sid, count in remaining.items() if count == 0]
    while ready:
        sid = ready.pop()
        alive.discard(sid)
        for user in users[sid]:
            remaining[user] -= 1
            if remaining[user] == 0:
                ready.append(user)
