"""Small builders for hand-made IR in pass tests (the frontends have their own tests)."""

from __future__ import annotations

from osiris.compile import make_context
from osiris.ir import Entry, Map, Param, ParamRef, Pipeline, Profile, Span, Step, Str, Template, Value
from osiris.passes.base import PassContext

FILE = "p.yaml"


def span(line: int, col: int = 1, width: int = 1) -> Span:
    return Span(FILE, line, col, line, col + width)


def cfg(**values: Value) -> Map:
    return Map(tuple(Entry(k, v) for k, v in values.items()))


def step(
    sid: str,
    mode: str = "read",
    *,
    needs: tuple[str, ...] | None = None,
    component: str | None = None,
    config: Map | None = None,
    line: int = 1,
) -> Step:
    default = {"read": "duckdb.extractor", "transform": "duckdb.processor", "write": "filesystem.csv_writer"}[mode]
    return Step(
        sid,
        component or default,
        mode,
        config or Map(),
        needs,
        span=span(line),
        id_span=span(line, 7, len(sid)),
        mode_span=span(line + 2, 11, len(mode)),
    )


def pipeline(*steps: Step, params: tuple[Param, ...] = (), profiles: tuple[Profile, ...] = ()) -> Pipeline:
    return Pipeline("p", "0.1.0", steps, params=params, profiles=profiles)


def ctx(
    params: dict[str, str] | None = None, env: dict[str, str] | None = None, profile: str | None = None
) -> PassContext:
    return make_context(params=params or {}, profile=profile, env=env or {})


def template(*parts: str | ParamRef) -> Template:
    return Template(tuple(Str(p) if isinstance(p, str) else p for p in parts))
