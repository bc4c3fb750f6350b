"""Hypothesis strategies for frontend IR: pipelines that both syntaxes can say, with valid identifiers.

``pipelines()`` draws ``ir.Pipeline`` values as a frontend would produce them (no spans, no pass results, no
``SecretRef``): config values use every kind of node, strings hold quotes, backslashes, unicode and line breaks,
and references appear only where OML parses them (config, parameter defaults, profiles). Plain strings there
never start with ``@`` nor hold ``${``, since the frontends would read those as references.
"""

from __future__ import annotations

from hypothesis import strategies as st

from osiris.ir import nodes as ir

COMPONENTS = (
    "mysql.extractor",
    "duckdb.processor",
    "filesystem.csv_extractor",
    "filesystem.csv_writer",
    "postgres.writer",
    "duckdb.writer",
)
MODES = ("read", "write", "transform")

step_ids = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
param_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
pipeline_names = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)
_ref_part = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)

_chars = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Zl", "Zp")) | st.sampled_from('\n\t"\\#{}[]=:$@ ')
any_text = st.text(_chars, max_size=24)
_key_chars = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Zl", "Zp")) | st.sampled_from('"\\#{}=: ')
keys = st.text(_key_chars, max_size=12).filter(lambda k: k != "<<")


def _plain_ok(text: str) -> bool:
    return "${" not in text and not text.startswith("@")


plain_text = any_text.filter(_plain_ok)

scalars: st.SearchStrategy[ir.Value] = st.one_of(
    st.builds(ir.Int, st.integers(min_value=-(2**63), max_value=2**63)),
    st.builds(ir.Float, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(ir.Bool, st.booleans()),
    st.just(ir.Null()),
)


@st.composite
def templates(draw: st.DrawFn) -> ir.Template:
    """Text with at least one ``${params.x}`` inside (never a lone placeholder: that is a ``ParamRef``)."""
    raw = draw(st.lists(st.one_of(plain_text.filter(bool), st.builds(ir.ParamRef, param_names)), min_size=2))
    parts: list[ir.Str | ir.ParamRef] = []
    for part in raw:
        if isinstance(part, str):
            if parts and isinstance(parts[-1], ir.Str):
                parts[-1] = ir.Str(parts[-1].value + part)
            else:
                parts.append(ir.Str(part))
        else:
            parts.append(part)
    text = "".join(p.value if isinstance(p, ir.Str) else "${params." + p.name + "}" for p in parts)
    joined = "".join(p.value for p in parts if isinstance(p, ir.Str))
    if "${" in joined or text.startswith("@") or len(parts) < 2 or all(isinstance(p, ir.Str) for p in parts):
        # merged text parts formed a placeholder or a reference: fall back to a simple, valid template
        return ir.Template((ir.Str("n > "), ir.ParamRef(draw(param_names))))
    return ir.Template(tuple(parts))


def values(refs: bool, depth: int = 2) -> st.SearchStrategy[ir.Value]:
    """Config values; with ``refs`` strings may be references, without they are literal text."""
    leaves: list[st.SearchStrategy[ir.Value]] = [scalars]
    if refs:
        leaves += [
            st.builds(ir.Str, plain_text),
            st.builds(ir.ConnectionRef, _ref_part, _ref_part),
            st.builds(ir.ParamRef, param_names),
            templates(),
        ]
    else:
        leaves.append(st.builds(ir.Str, any_text))
    leaf = st.one_of(*leaves)
    if depth == 0:
        return leaf
    inner = values(refs, depth - 1)
    return st.one_of(
        leaf,
        st.builds(ir.List, st.lists(inner, max_size=4).map(tuple)),
        maps(inner),
    )


def maps(inner: st.SearchStrategy[ir.Value], key_strategy: st.SearchStrategy[str] = keys) -> st.SearchStrategy[ir.Map]:
    entries = st.lists(st.tuples(key_strategy, inner), max_size=4, unique_by=lambda kv: kv[0])
    return entries.map(lambda kvs: ir.Map(tuple(ir.Entry(k, v) for k, v in kvs)))


@st.composite
def steps(draw: st.DrawFn, earlier: list[str]) -> ir.Step:
    step_id = draw(step_ids.filter(lambda s: s not in earlier))
    needs = draw(
        st.none() | st.lists(st.sampled_from(earlier), unique=True).map(tuple) if earlier else st.none() | st.just(())
    )
    return ir.Step(
        id=step_id,
        component=draw(st.sampled_from(COMPONENTS)),
        mode=draw(st.sampled_from(MODES)),
        config=draw(maps(values(refs=True))),
        needs=needs,
    )


@st.composite
def pipelines(draw: st.DrawFn, max_steps: int = 4) -> ir.Pipeline:
    """A frontend-level pipeline: acyclic needs (only on earlier steps), unique ids, params and profiles."""
    count = draw(st.integers(min_value=1, max_value=max_steps))
    built: list[ir.Step] = []
    for _ in range(count):
        built.append(draw(steps([s.id for s in built])))
    names = draw(st.lists(param_names, max_size=3, unique=True))
    params = tuple(ir.Param(n, draw(st.none() | values(refs=True, depth=1)), draw(st.none() | any_text)) for n in names)
    profile_names = draw(st.lists(step_ids, max_size=2, unique=True))
    profiles = tuple(ir.Profile(n, draw(maps(values(refs=True, depth=1), param_names))) for n in profile_names)
    return ir.Pipeline(
        name=draw(pipeline_names),
        oml_version="0.1.0",
        steps=tuple(built),
        description=draw(st.none() | any_text),
        metadata=draw(st.none() | maps(values(refs=False))),
        schedule=draw(st.none() | values(refs=False, depth=1)),
        params=params,
        profiles=profiles,
    )
