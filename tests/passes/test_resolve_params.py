from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osiris.ir import Bool, ConnectionRef, Entry, Float, Int, List, Map, Null, Param, ParamRef, Profile, Str
from osiris.ir.verify import verify
from osiris.passes.base import Params
from osiris.passes.resolve_params import env_names, format_value, parse_scalar, resolve_params

from .helpers import cfg, ctx, pipeline, span, step, template


def _one(config_value, declared=(), profiles=(), **kw):  # type: ignore[no-untyped-def]
    p = pipeline(step("a", config=cfg(v=config_value)), params=declared, profiles=profiles)
    c = ctx(**kw)
    result = resolve_params(p, c)
    return result.pipeline.steps[0].config.get("v"), result.diagnostics, result.product


def test_precedence_cli_env_profile_default() -> None:
    params = (Param("n", Int(1)),)
    profiles = (Profile("dev", cfg(n=Int(3))),)
    assert _one(ParamRef("n"), params)[0] == Int(1)
    assert _one(ParamRef("n"), params, profiles, profile="dev")[0] == Int(3)
    assert _one(ParamRef("n"), params, profiles, profile="dev", env={"OSIRIS_PARAM_N": "4"})[0] == Int(4)
    value, diags, product = _one(
        ParamRef("n"), params, profiles, profile="dev", env={"OSIRIS_PARAM_N": "4"}, params={"n": "5"}
    )
    assert value == Int(5) and diags == ()
    assert product == Params(values={"n": 5}, origins={"n": "cli"}, profile="dev")


def test_env_exact_spelling_wins_over_upper_case() -> None:
    params = (Param("min_n", Int(1)),)
    env = {"OSIRIS_PARAM_MIN_N": "7", "OSIRIS_PARAM_min_n": "8"}
    assert _one(ParamRef("min_n"), params, env=env)[0] == Int(8)
    assert _one(ParamRef("min_n"), params, env={"OSIRIS_PARAM_MIN_N": "7"})[0] == Int(7)
    assert env_names("a-b") == ["OSIRIS_PARAM_a-b", "OSIRIS_PARAM_A-B", "OSIRIS_PARAM_A_B"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", Int(3)),
        ("-3", Int(-3)),
        ("0x1f", Int(31)),
        ("2.5", Float(2.5)),
        ("1e3", Float(1000.0)),
        ("true", Bool(True)),
        ("FALSE", Bool(False)),
        ("null", Null()),
        ("~", Null()),
        ("", Str("")),
        ("007", Str("007")),
        ("'3'", Str("3")),
        ('"true"', Str("true")),
        (".inf", Str(".inf")),
        ("yes", Str("yes")),
        ("@mysql.db", ConnectionRef("mysql", "db")),
        ("a b", Str("a b")),
    ],
)
def test_parse_scalar(text: str, value: object) -> None:
    assert parse_scalar(text) == value


def test_whole_placeholder_keeps_type_and_span() -> None:
    params = (Param("cols", List((Str("a"), Str("b")))),)
    where = span(4, 9, 15)
    value, diags, _ = _one(ParamRef("cols", where), params)
    assert value == List((Str("a"), Str("b"))) and value.span == where and diags == ()


def test_template_formatting() -> None:
    params = (
        Param("i", Int(2)),
        Param("f", Float(0.5)),
        Param("b", Bool(False)),
        Param("z", Null()),
        Param("s", Str("x")),
    )
    t = template(
        "i=", ParamRef("i"), " f=", ParamRef("f"), " b=", ParamRef("b"), " z=", ParamRef("z"), " s=", ParamRef("s")
    )
    value, diags, _ = _one(t, params)
    assert value == Str("i=2 f=0.5 b=false z= s=x") and diags == ()
    assert [format_value(v) for v in (Int(-1), Bool(True), ConnectionRef("a", "b"))] == ["-1", "true", "@a.b"]


def test_unknown_param_did_you_mean_at_placeholder() -> None:
    where = span(5, 20, 14)
    _, diags, _ = _one(template("n > ", ParamRef("min_nn", where)), (Param("min_n", Int(1)),))
    assert [(d.code, d.span, d.notes[0]) for d in diags] == [("OSR-E100", where, "did you mean 'min_n'?")]


def test_param_without_value_reported_at_each_use() -> None:
    p = pipeline(
        step("a", config=cfg(x=ParamRef("t", span(3)), y=template("T", ParamRef("t", span(4))))), params=(Param("t"),)
    )
    diags = resolve_params(p, ctx()).diagnostics
    assert [(d.code, d.span) for d in diags] == [("OSR-E101", span(3)), ("OSR-E101", span(4))]


def test_undeclared_cli_param_unknown_profile_and_profile_key() -> None:
    profiles = (Profile("dev", cfg(n=Int(1))),)
    _, diags, _ = _one(Int(1), (Param("n", Int(1)),), profiles, params={"nn": "2"}, profile="prod")
    assert [d.code for d in diags] == ["OSR-E103", "OSR-E102"]
    assert "'dev'" in diags[0].notes[-1] and diags[1].notes[0] == "did you mean 'n'?"
    # Every profile is checked for undeclared names, active or not.
    bad = (*profiles, Profile("ci", Map((Entry("m", Int(1), span(9, 7, 1)),))))
    _, diags, _ = _one(Int(1), (Param("n", Int(1)),), bad, profile="dev")
    assert [(d.code, d.span) for d in diags] == [("OSR-E104", span(9, 7, 1))]


def test_list_in_template_and_placeholder_in_value_are_errors() -> None:
    _, diags, _ = _one(template("x", ParamRef("l")), (Param("l", List(())),))
    assert [d.code for d in diags] == ["OSR-E105"]
    _, diags, _ = _one(ParamRef("a"), (Param("a", ParamRef("b")), Param("b", Int(1))))
    assert [d.code for d in diags] == ["OSR-E106"]


@given(st.integers() | st.booleans() | st.text(max_size=20))
def test_cli_value_round_trips_and_is_idempotent(raw: object) -> None:
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    p = pipeline(step("a", config=cfg(v=ParamRef("x"), t=template("<", ParamRef("x"), ">"))), params=(Param("x"),))
    c = ctx(params={"x": text})
    out = resolve_params(p, c)
    assert not out.diagnostics
    value = out.pipeline.steps[0].config.get("v")
    if isinstance(raw, bool | int):
        assert value == (Bool(raw) if isinstance(raw, bool) else Int(raw))
    assert out.pipeline.steps[0].config.get("t") == Str("<" + (format_value(value) or "") + ">")
    assert verify(out.pipeline, ["resolve-params"]) == []
    assert resolve_params(out.pipeline, c).pipeline == out.pipeline
