"""dlt reference: sql_database source (MySQL) -> postgres destination, one table, with a chosen backend.

Usage: python dlt_copy.py BACKEND SOURCE_TABLE TARGET_TABLE WORK_DIR [FILE_FORMAT]
The dataset (schema) is $BENCH_PG_SCHEMA; dlt adds its _dlt_load_id/_dlt_id columns, which verification ignores.
"""

from __future__ import annotations

import os
import sys

import dlt
from common import mysql_url, pg_url
from dlt.sources.sql_database import sql_table


def main() -> int:
    backend, source, target, work = sys.argv[1:5]
    file_format = sys.argv[5] if len(sys.argv) > 5 else None
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    kwargs = {}
    if backend == "connectorx":
        # connectorx reads with its own Rust driver; it takes a plain mysql:// URL
        kwargs["backend_kwargs"] = {"conn": mysql_url("mysql")}
    table = sql_table(credentials=mysql_url(), table=source, backend=backend, **kwargs)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{target}",
        pipelines_dir=work,
        destination=dlt.destinations.postgres(credentials=pg_url()),
        dataset_name=os.environ["BENCH_PG_SCHEMA"],
    )
    run_kwargs = {"loader_file_format": file_format} if file_format else {}
    info = pipeline.run(table, table_name=target, write_disposition="append", **run_kwargs)
    info.raise_on_failed_jobs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
