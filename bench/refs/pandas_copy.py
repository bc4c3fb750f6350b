"""pandas reference: read_sql from MySQL (SQLAlchemy + PyMySQL), to_sql into PostgreSQL (SQLAlchemy + psycopg2).

Usage: python pandas_copy.py SOURCE_TABLE TARGET_TABLE
"""

from __future__ import annotations

import os
import sys

import pandas as pd
import sqlalchemy as sa
from common import mysql_url, pg_url


def main() -> int:
    source, target = sys.argv[1:3]
    src = sa.create_engine(mysql_url())
    dst = sa.create_engine(pg_url("postgresql+psycopg2"))
    with src.connect() as conn:
        frame = pd.read_sql(sa.text(f"SELECT * FROM `{source}`"), conn)
    frame.to_sql(
        target,
        dst,
        schema=os.environ["BENCH_PG_SCHEMA"],
        if_exists="fail",
        index=False,
        chunksize=10_000,
        method="multi",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
