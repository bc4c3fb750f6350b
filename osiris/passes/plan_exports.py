"""plan_exports: which extractor -> writer pairs run as one server-formatted export (docs/mysql-transfer.md).

An extractor whose spec declares ``x-compiler.export: <dialect>`` (mysql.extractor: ``csv``) can have its server
write the file's bytes itself: each row as the exact line the writer would write. The pair is fused when

- the extractor's rows go to one step only, a writer of that dialect whose spec ``takes`` an export;
- that writer reads nothing else;
- the extractor reads all its rows in one query: no ``incremental`` (its state and cursor need the Arrow values)
  and no ``partition``;
- the writer's options have an exact server-side form (``osiris.dialects.csv.export_options``: no compression,
  UTF-8, quoting ``minimal``/``nonnumeric``/``all``, a delimiter a SQL literal holds as itself).

The column types are checked when the run starts (the columns are often known only then): any column without an
exact form (FLOAT/DOUBLE, TIME, BIT, ...) makes that run take the Arrow path, which is always correct. The decision
is build-time data: the product maps each fused extractor to ``{writer, format, options}`` and each candidate writer
that was not fused to the reason; the plan builder writes ``export`` into both steps' plan entries and
``osirisc plan`` prints it. It changes no IR and reports no diagnostic (not fusing is never an error).

Before: ``src (mysql.extractor, table: t) -> out (filesystem.csv_writer, path: t.csv)``
After: ``Exports(steps={"src": {"writer": "out", "format": "csv", "options": {"delimiter": ",", ...}}})``.
"""

from __future__ import annotations

from typing import Any

from osiris.dialects import csv
from osiris.ir import nodes
from osiris.passes.base import Exports, PassContext, PassResult

_READS_ALONE = ("incremental", "partition")  # extractor options the one-query export cannot honour


def plan_exports(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    consumers: dict[str, list[nodes.Step]] = {}
    for step in pipeline.steps:
        for producer in dict.fromkeys(i.step for i in step.inputs):
            consumers.setdefault(producer, []).append(step)
    fused: dict[str, dict[str, Any]] = {}
    refused: dict[str, dict[str, str]] = {}
    for step in pipeline.steps:
        spec = ctx.registry.get(step.component)
        if spec is None or step.mode != "read" or spec.export in (None, "takes") or step.id in ctx.skip:
            continue
        readers = consumers.get(step.id, [])
        writers = [w for w in readers if _takes(ctx, w, str(spec.export))]
        if not writers:
            continue  # no writer that could take its export: nothing to say
        why = _refusal(step, readers)
        for writer in writers:
            found = why or _writer_refusal(writer, step.id, ctx)
            if isinstance(found, dict):
                fused[step.id] = {"writer": writer.id, "format": spec.export, "options": found}
            else:
                refused[writer.id] = {"source": step.id, "reason": found}
    return PassResult(pipeline, product=Exports(fused, refused))


def _takes(ctx: PassContext, step: nodes.Step, dialect: str) -> bool:
    spec = ctx.registry.get(step.component)
    return spec is not None and step.mode == "write" and spec.export == "takes" and spec.dialect == dialect


def _refusal(step: nodes.Step, readers: list[nodes.Step]) -> str | None:
    if len(readers) != 1:
        return f"'{step.id}' feeds {len(readers)} steps ({', '.join(r.id for r in readers)})"
    for key in _READS_ALONE:
        if step.config.entry(key) is not None:
            return f"'{step.id}' sets {key} (it needs the rows as Arrow values)"
    return None


def _writer_refusal(writer: nodes.Step, source: str, ctx: PassContext) -> dict[str, Any] | str:
    if writer.id in ctx.skip:
        return "the writer's config did not check"
    others = sorted({i.step for i in writer.inputs} - {source})
    if others:
        return f"'{writer.id}' also reads {', '.join(others)}"
    config = nodes.plain(writer.config)
    assert isinstance(config, dict)
    return csv.export_options(config)
