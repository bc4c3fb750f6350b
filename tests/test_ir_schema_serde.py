"""Step.schema and Step.write (added for infer_schemas / plan_ddl) survive the IR serde round trip."""

from __future__ import annotations

from osiris.ir import nodes
from osiris.ir.serde import from_json, to_json
from osiris.ir.span import Span


def test_schema_and_write_round_trip() -> None:
    col = nodes.Column("id", "int64", False, Span("p.yaml", 3, 5, 3, 9))
    step = nodes.Step(
        "w",
        "postgres.writer",
        "write",
        schema=nodes.Schema((col,), "declared"),
        write={
            "mode": "append",
            "columns": [{"name": "id", "type": "int64", "nullable": False}],
            "statements": {"prepare": ["CREATE TABLE x"], "finalize": []},
        },
    )
    pipeline = nodes.Pipeline("p", "0.1.0", (step, nodes.Step("r", "mysql.extractor", "read")))
    back = from_json(to_json(pipeline))
    assert back == pipeline
    assert back.steps[0].schema is not None and back.steps[0].schema.columns[0].span == col.span
    assert back.steps[1].schema is None and back.steps[1].write is None
    hash(back.steps[0])  # the write plan is data, excluded from the hash


def test_defaults_keep_old_documents_loading() -> None:
    pipeline = nodes.Pipeline("p", "0.1.0", (nodes.Step("r", "mysql.extractor", "read"),))
    assert '"schema"' not in to_json(pipeline)
