"""duckdb.processor: one SQL query over the upstream streams, its result streamed back in Arrow batches.

Each input is visible under the plan's names (``df_<id>``, ``input_df``). An input the query names once is a view
over its Arrow stream (nothing is copied); an input named more than once (self joins, several CTEs) is first
loaded into a DuckDB temp table, which DuckDB spills to the run's temp folder past its memory limit, because a
stream can be read only once. Aliases of one upstream share one stream. The result comes out exactly as
``osiris.dialects.exact`` says (the duckdb.extractor's rules); a column name that occurs twice is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from osiris.components.duckdb_extractor.driver import error_text, exact_reader
from osiris.dialects.exact import cast, duckdb_reader, duckdb_select
from osiris.runtime.driver import StepContext, StepError

DUCKDB_MIN_MEMORY_MB = 256


def references(query: str, name: str) -> int:
    """How often ``name`` appears as an identifier in ``query`` (bare or double-quoted, any case)."""
    return len(re.findall(rf'(?<![\w."]){re.escape(name)}(?![\w"])|"{re.escape(name)}"', query, re.IGNORECASE))


class Driver:
    def __init__(self, step: Mapping[str, Any], ctx: StepContext):
        self.step = step
        self.ctx = ctx

    def _connect(self) -> duckdb.DuckDBPyConnection:
        tmp = self.ctx.run_dir / "tmp" / f"duckdb-{self.ctx.step_id}"
        tmp.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(config={"temp_directory": str(tmp)})
        # DuckDB's own working memory, not the streams' budget: at least what it had when the budget's default was
        # 256 MiB (a GROUP BY under a lower limit spills to temp_directory and slows down)
        limit_mb = max(DUCKDB_MIN_MEMORY_MB, self.ctx.memory_budget // (1024 * 1024))
        con.execute(f"SET memory_limit = '{limit_mb}MB'")
        con.execute("SET preserve_insertion_order = true")
        return con

    def run(self, inputs: Mapping[str, pa.RecordBatchReader]) -> pa.RecordBatchReader:
        query = str(self.ctx.config["query"])
        con = self._connect()
        groups: dict[int, list[str]] = {}
        for name, reader in inputs.items():
            groups.setdefault(id(reader), []).append(name)
        try:
            for names in groups.values():
                reader = inputs[names[0]]
                uses = sum(references(query, n) for n in names)
                source = f"__osiris_src_{len(names)}_{names[0]}"
                select = duckdb_select(reader.schema)  # decimals over 38 digits go in as text (dialects/exact.py)
                reader = duckdb_reader(reader)
                if uses > 1:
                    con.register(source, reader)
                    con.execute(f'CREATE TEMP TABLE "{names[0]}" AS SELECT {select} FROM "{source}"')
                    con.unregister(source)
                elif select != "*":
                    con.register(source, reader)
                    con.execute(f'CREATE TEMP VIEW "{names[0]}" AS SELECT {select} FROM "{source}"')
                else:
                    con.register(names[0], reader)
                for alias in names[1:]:
                    con.execute(f'CREATE TEMP VIEW "{alias}" AS SELECT * FROM "{names[0]}"')
            out, exact = exact_reader(con, query, self.ctx.batch_size)
        except ValueError as exc:
            con.close()
            raise StepError(str(exc)) from None
        except duckdb.Error as exc:
            con.close()
            raise StepError(f"SQL error: {error_text(exc)}") from None
        except BaseException:
            con.close()
            raise
        schema = exact.schema(out.schema)
        return pa.RecordBatchReader.from_batches(schema, self._stream(con, out, schema))

    def _stream(
        self, con: duckdb.DuckDBPyConnection, out: pa.RecordBatchReader, schema: pa.Schema
    ) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch = out.read_next_batch()
                except StopIteration:
                    return
                except (duckdb.Error, pa.ArrowException) as exc:
                    raise StepError(f"SQL error: {error_text(exc)}") from None
                try:
                    yield cast(batch, schema)
                except ValueError as exc:
                    raise StepError(str(exc)) from None
        finally:
            con.close()
