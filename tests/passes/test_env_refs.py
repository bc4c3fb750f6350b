"""``"${env.NAME}"`` in a secret field of an OML file becomes an env SecretRef; elsewhere it is OSR-E184."""

from pathlib import Path

from osiris.compile import compile_file
from osiris.ir import SecretRef

PIPELINE = """\
oml_version: "0.1.0"
name: env-ok
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config:
      host: db.example.com
      database: movies
      user: reader
      password: "${env.MOVIES_PASSWORD}"
      table: movies
"""


def test_env_reference_in_secret_field(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    result = compile_file(str(path), env={}, until="redact-secrets")
    assert not result.failed, result.diagnostics
    assert result.pipeline is not None
    password = result.pipeline.steps[0].config.get("password")
    assert password == SecretRef("env", "MOVIES_PASSWORD")


def test_env_reference_elsewhere_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE.replace("table: movies", 'table: "${env.TABLE}"'), encoding="utf-8")
    result = compile_file(str(path), env={})
    assert [d.code for d in result.diagnostics if d.is_error] == ["OSR-E184"]
