"""Osiris-only spellings osirisc accepts although Osiris's own validator refuses them: the legacy step keys
``uses``/``with`` and mysql.writer's ``mode``/``upsert_keys``/``create_table``. Each loads with a positioned
deprecation warning naming the modern spelling, and compiles to exactly what the modern file compiles to."""

from __future__ import annotations

from pathlib import Path

from osiris.compile import compile_file

LEGACY = """\
oml_version: "0.1.0"
name: legacy-writer
steps:
  - id: read-orders
    uses: filesystem.csv_extractor
    mode: read
    with: {path: orders.csv, columns: [order_id, item]}
  - id: load-orders
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.dw"
      table: orders
      mode: upsert
      upsert_keys: [order_id]
      create_table: true
"""
MODERN = """\
oml_version: "0.1.0"
name: legacy-writer
steps:
  - id: read-orders
    component: filesystem.csv_extractor
    mode: read
    config: {path: orders.csv, columns: [order_id, item]}
  - id: load-orders
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.dw"
      table: orders
      write_mode: upsert
      primary_key: [order_id]
      create_if_missing: true
"""


def test_legacy_spellings_warn_at_the_key_and_name_the_modern_one(tmp_path: Path) -> None:
    result = compile_file(str(tmp_path / "p.yaml"), text=LEGACY, env={}, until="validate_config")
    assert result.pipeline is not None and not result.failed
    found = {(d.code, d.span.line, d.span.col, d.message, d.notes) for d in result.diagnostics if d.span}
    assert found == {
        ("OSR-W015", 5, 5, "'uses' is the legacy spelling of 'component' (deprecated)",
         ("write 'component' instead: Osiris's validator rejects a step without 'component'",)),
        ("OSR-W015", 7, 5, "'with' is the legacy spelling of 'config' (deprecated)",
         ("write 'config' instead: Osiris's validator does not read 'with', so it checks none of that config",)),
        ("OSR-W160", 14, 7, "'mode' is the Osiris spelling of 'write_mode'", ("write 'write_mode' instead",)),
        ("OSR-W160", 15, 7, "'upsert_keys' is the Osiris spelling of 'primary_key'", ("write 'primary_key' instead",)),
        ("OSR-W160", 16, 7, "'create_table' is the Osiris spelling of 'create_if_missing'",
         ("write 'create_if_missing' instead",)),
    }  # fmt: skip
    assert len(result.diagnostics) == len(found)


def test_legacy_and_modern_spellings_compile_to_the_same_plan(tmp_path: Path) -> None:
    legacy = compile_file(str(tmp_path / "p.yaml"), text=LEGACY, env={})
    modern = compile_file(str(tmp_path / "p.yaml"), text=MODERN, env={})
    assert legacy.pipeline is not None and modern.pipeline is not None
    assert [d.code for d in modern.diagnostics if d.is_error] == []
    assert legacy.pipeline.steps == modern.pipeline.steps  # spans never take part in equality
    load = legacy.pipeline.step("load-orders")
    assert load is not None and load.write is not None
    assert load.write["mode"] == "upsert" and load.write["primary_key"] == ["order_id"]
    assert load.write["create_if_missing"] is True
