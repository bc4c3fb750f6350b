"""``osirisc init [DIR] [--syntax oml|text] [--force]``: a working project to start from.

Writes a pipeline that runs on the embedded default (a CSV read, a DuckDB transform, a DuckDB file and a CSV
written), its sample data, ``osiris_connections.yaml`` with ``${VAR}`` placeholders for the database servers,
``.env.example`` naming those variables, a ``.gitignore`` that keeps ``.env``, ``runs/``, ``build/`` and
``output/`` out of version control, and a short README. ``osirisc check`` passes on it and ``osirisc run``
works without any server. Existing files are never overwritten unless ``--force``; nothing is written if one
would be.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PIPELINE_OML = """\
# Your first pipeline: no server needed. CSV -> DuckDB transform -> a DuckDB file and a CSV file.
#   osirisc check pipeline.yaml
#   osirisc run pipeline.yaml
#   osirisc report --last
oml_version: "0.1.0"
name: NAME
description: Revenue per region from a small orders CSV.
steps:
  - id: read-orders
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/orders.csv

  - id: revenue-by-region
    component: duckdb.processor
    mode: transform
    needs: [read-orders]
    config:
      query: |
        SELECT region,
               SUM(quantity) AS items,
               ROUND(SUM(quantity * unit_price), 2) AS revenue
        FROM df_read_orders
        GROUP BY region
        ORDER BY region

  - id: write-duckdb
    component: duckdb.writer
    mode: write
    needs: [revenue-by-region]
    config:
      path: output/warehouse.duckdb
      table: revenue_by_region
      write_mode: replace
      primary_key: region

  - id: write-csv
    component: filesystem.csv_writer
    mode: write
    needs: [revenue-by-region]
    config:
      path: output/revenue_by_region.csv
"""

ORDERS_CSV = """\
order_id,region,product,quantity,unit_price
1,north,widget,3,2.50
2,south,widget,1,2.50
3,north,gadget,2,10.00
4,east,gadget,5,9.50
5,south,gizmo,4,4.25
6,north,gizmo,1,4.25
7,east,widget,2,2.50
8,west,gadget,1,10.00
"""

CONNECTIONS = """\
# Connections: referenced from a step's config as connection: "@family.alias".
# Values come from the environment (or a .env file next to this one) at run time only; nothing here is a secret.
connections:
  mysql:
    source:
      default: true
      host: ${MYSQL_HOST:-127.0.0.1}
      port: ${MYSQL_PORT:-3306}
      database: ${MYSQL_DATABASE}
      user: ${MYSQL_USER}
      password: ${MYSQL_PASSWORD}
  postgres:
    warehouse:
      default: true
      host: ${PGHOST:-127.0.0.1}
      port: ${PGPORT:-5432}
      database: ${PGDATABASE}
      user: ${PGUSER}
      password: ${PGPASSWORD}
"""

ENV_EXAMPLE = """\
# Copy to .env and fill in (.env is git-ignored). Only needed by pipelines that use these connections.
MYSQL_HOST=127.0.0.1
MYSQL_PORT=3306
MYSQL_DATABASE=
MYSQL_USER=
MYSQL_PASSWORD=
PGHOST=127.0.0.1
PGPORT=5432
PGDATABASE=
PGUSER=
PGPASSWORD=
"""

GITIGNORE = """\
# secrets and what runs leave behind
.env
runs/
build/
output/
"""

README = """\
# NAME

A pipeline project made by `osirisc init`.

```sh
osirisc check PIPELINE        # every problem at file:line:col, nothing runs
osirisc run PIPELINE          # runs on DuckDB and files; the record goes to runs/
osirisc report --last         # an HTML page of the last run (runs/<pipeline>/<run>/report.html)
osirisc plan PIPELINE         # the DDL each writer will execute
```

To read from MySQL or write to PostgreSQL, copy `.env.example` to `.env`, fill it in, and refer to a
connection from a step: `connection: "@mysql.source"` or `connection: "@postgres.warehouse"`.
`osirisc components list` shows the components and `osirisc components show NAME` their settings.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create a project skeleton that checks and runs as it is")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the project folder (default: here)")
    p.add_argument("--syntax", choices=("oml", "text"), default="oml", help="the pipeline's syntax (default: oml)")
    p.add_argument("--name", help="the pipeline's name (default: the folder's name)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")


def project_name(folder: Path, given: str | None) -> str:
    """A lowercase-kebab pipeline name from ``given`` or the folder's name."""
    import re

    raw = given or folder.resolve().name
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return name if name and name[0].isalnum() else f"pipeline-{name}".strip("-")


def files(name: str, syntax: str) -> dict[str, str]:
    """Relative path -> text of every file of the skeleton."""
    pipeline = PIPELINE_OML.replace("NAME", name)
    pipeline_file = "pipeline.yaml"
    if syntax == "text":
        from osiris.frontend import Source, parse_source
        from osiris.frontend.print_text import to_text

        parsed, _ = parse_source(Source(pipeline_file, pipeline), "oml")
        assert parsed is not None, "the built-in template is valid OML"
        pipeline, pipeline_file = to_text(parsed), "pipeline.osiris"
    return {
        pipeline_file: pipeline,
        "data/orders.csv": ORDERS_CSV,
        "osiris_connections.yaml": CONNECTIONS,
        ".env.example": ENV_EXAMPLE,
        ".gitignore": GITIGNORE,
        "README.md": README.replace("NAME", name).replace("PIPELINE", pipeline_file),
    }


def run(args: argparse.Namespace) -> int:
    from osiris.canonical import write_atomic

    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        print(f"osirisc init: '{folder}' exists and is not a folder", file=sys.stderr)
        return 2
    skeleton = files(project_name(folder, args.name), args.syntax)
    existing = [rel for rel in skeleton if (folder / rel).exists()]
    if existing and not args.force:
        print(
            f"osirisc init: would overwrite {', '.join(existing)} in '{folder}'; nothing written (--force overwrites)",
            file=sys.stderr,
        )
        return 2
    for rel, text in skeleton.items():
        write_atomic(folder / rel, text)
    pipeline = next(iter(skeleton))
    where = "" if folder == Path() else f"cd {folder} && "
    print(f"created {len(skeleton)} files in {folder}", file=sys.stderr)
    print(f"next: {where}osirisc run {pipeline} && osirisc report --last", file=sys.stderr)
    return 0
