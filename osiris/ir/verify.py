"""The IR verifier: internal invariants a pass may assume and must keep. Problems here are compiler bugs.

``verify(pipeline)`` checks what holds at every stage; ``passes_run`` adds what later stages promise (after
``resolve-params`` no placeholder is left; after ``build-dag`` every step has effective ``needs`` and an order).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from osiris.ir import nodes


def _placeholders(value: nodes.Value, path: str) -> Iterator[str]:
    match value:
        case nodes.ParamRef() | nodes.Template():
            yield path
        case nodes.List():
            for i, item in enumerate(value.items):
                yield from _placeholders(item, f"{path}/{i}")
        case nodes.Map():
            for entry in value.entries:
                yield from _placeholders(entry.value, f"{path}/{entry.key}")


def _values(value: object, path: str) -> Iterator[str]:
    """Every node in a config is an IR value (no raw Python data slipped in)."""
    if not isinstance(value, nodes.VALUE_TYPES):
        yield f"{path}: not an IR value: {type(value).__name__}"
        return
    if isinstance(value, nodes.List):
        for i, item in enumerate(value.items):
            yield from _values(item, f"{path}/{i}")
    elif isinstance(value, nodes.Map):
        keys = [e.key for e in value.entries]
        if len(set(keys)) != len(keys):
            yield f"{path}: duplicate keys"
        for entry in value.entries:
            yield from _values(entry.value, f"{path}/{entry.key}")
    elif isinstance(value, nodes.Template) and not all(isinstance(p, nodes.Str | nodes.ParamRef) for p in value.parts):
        yield f"{path}: template part is neither text nor a placeholder"


Memo = dict[tuple[int, str, str], tuple[object, list[str]]]


def _walk(memo: Memo | None, kind: str, config: nodes.Value, path: str) -> list[str]:
    """``_values`` or ``_placeholders`` of a config; IR values are immutable, so with a ``memo`` (one per pass run)
    a config object that the previous pass passed through unchanged is not walked again."""
    walk = _values if kind == "values" else _placeholders
    if memo is None:
        return list(walk(config, path))
    key = (id(config), path, kind)
    hit = memo.get(key)
    if hit is not None and hit[0] is config:
        return hit[1]
    found = list(walk(config, path))
    memo[key] = (config, found)  # holding the config keeps its id from being reused
    return found


def verify(
    pipeline: nodes.Pipeline,
    passes_run: Collection[str] = (),
    memo: Memo | None = None,
    broken: Collection[str] = (),
) -> list[str]:
    """Internal problems of ``pipeline`` (empty when it is well formed for the stage ``passes_run`` reached).

    ``memo`` (optional, a dict kept across the verifications of one compile) saves re-walking unchanged configs.
    ``broken`` steps (a diagnostic was reported for them, and no later pass looks at them) may keep placeholders
    in their config; everything else is checked for them too."""
    problems: list[str] = []
    ids = [s.id for s in pipeline.steps]
    if len(set(ids)) != len(ids):
        problems.append(f"duplicate step ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    known = set(ids)
    for step in pipeline.steps:
        problems += _step_problems(step, known, passes_run, memo, step.id in broken)
    if pipeline.order:
        problems += _order_problems(pipeline, ids)
    elif "build-dag" in passes_run and pipeline.steps:
        problems.append("no order after build-dag")
    return problems


def _step_problems(
    step: nodes.Step, known: set[str], passes_run: Collection[str], memo: Memo | None, broken: bool
) -> list[str]:
    problems = list(_walk(memo, "values", step.config, f"steps/{step.id}/config"))  # a copy: the memo keeps its own
    for need in step.needs or ():
        if need not in known:
            problems.append(f"step {step.id!r} needs unknown step {need!r}")
        if need == step.id:
            problems.append(f"step {step.id!r} needs itself")
    names = [i.name for i in step.inputs]
    if len(set(names)) != len(names):
        problems.append(f"step {step.id!r} has duplicate input names {names}")
    for inp in step.inputs:
        if inp.step not in (step.needs or ()):
            problems.append(f"step {step.id!r} has input {inp.name!r} from {inp.step!r}, which it does not need")
    if "resolve-params" in passes_run and not broken:
        problems += [
            f"unresolved placeholder at {p}"
            for p in _walk(memo, "placeholders", step.config, f"steps/{step.id}/config")
        ]
    if "build-dag" in passes_run and step.needs is None:
        problems.append(f"step {step.id!r} has no effective needs after build-dag")
    return problems


def _order_problems(pipeline: nodes.Pipeline, ids: list[str]) -> list[str]:
    if sorted(pipeline.order) != sorted(ids):
        return [f"order {list(pipeline.order)} is not a permutation of the step ids"]
    problems: list[str] = []
    seen: set[str] = set()
    by_id = {s.id: s for s in pipeline.steps}
    for sid in pipeline.order:
        found = by_id.get(sid)
        late = [n for n in (found.needs if found else None) or () if n not in seen]
        if late:
            problems.append(f"order puts {sid!r} before what it needs: {late}")
        seen.add(sid)
    return problems
