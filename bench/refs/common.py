"""Connection URLs of the reference scripts, from the environment the harness sets (passwords never in argv)."""

from __future__ import annotations

import os
from urllib.parse import quote


def mysql_url(driver: str = "mysql+pymysql") -> str:
    e = os.environ
    pw = quote(e.get("BENCH_MYSQL_PASSWORD", ""), safe="")
    return (
        f"{driver}://{quote(e['BENCH_MYSQL_USER'], safe='')}:{pw}@{e['BENCH_MYSQL_HOST']}:{e['BENCH_MYSQL_PORT']}"
        f"/{e['BENCH_MYSQL_DATABASE']}"
    )


def pg_url(driver: str = "postgresql") -> str:
    e = os.environ
    pw = quote(e.get("BENCH_PG_PASSWORD", ""), safe="")
    return (
        f"{driver}://{quote(e['BENCH_PG_USER'], safe='')}:{pw}@{e['BENCH_PG_HOST']}:{e['BENCH_PG_PORT']}"
        f"/{e['BENCH_PG_DATABASE']}"
    )
