"""redact_secrets on IR built directly: env references and connection references become SecretRefs."""

from __future__ import annotations

from osiris.compile import make_context
from osiris.ir import ConnectionRef, Entry, Map, Pipeline, SecretRef, Step, Str
from osiris.passes.redact_secrets import find_secrets, redact_secrets


def run(config: Map) -> tuple[Pipeline, list[str]]:
    pipeline = Pipeline("p", "0.1.0", (Step("a", "postgres.extractor", "read", config, needs=()),))
    result = redact_secrets(pipeline, make_context(env={}))
    return result.pipeline, [d.code for d in result.diagnostics]


def test_env_reference_becomes_secret_ref() -> None:
    out, codes = run(Map((Entry("password", Str("${env.PG_PASSWORD}")), Entry("table", Str("t")))))
    assert codes == []
    assert out.steps[0].config.get("password") == SecretRef("env", "PG_PASSWORD")


def test_connection_reference_becomes_secret_ref() -> None:
    ref = ConnectionRef("postgres", "wh")
    out, codes = run(Map((Entry("connection", ref), Entry("pg_dsn", ref))))
    assert codes == []
    assert out.steps[0].config.get("pg_dsn") == SecretRef("connection", "pg_dsn", ref)


def test_literal_secret_is_removed_from_the_ir() -> None:
    out, codes = run(Map((Entry("api_token", Str("abc123xyz")),)))
    assert codes == ["OSR-E180"]
    assert "abc123xyz" not in repr(out)


def test_secret_patterns() -> None:
    assert [c for c, *_ in find_secrets("mysql://u:pw1@h/db")] == ["OSR-E181"]
    assert [c for c, *_ in find_secrets("host=h user=u password=pw1")] == ["OSR-E182"]
    assert list(find_secrets("SELECT * FROM t WHERE password = p.password")) == []  # no connection-string context
    assert list(find_secrets("postgresql://u:${env.PW}@h/db")) == []
    assert [c for c, *_ in find_secrets("key AKIAABCDEFGHIJKLMNOP here")] == ["OSR-E183"]
