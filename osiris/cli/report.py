"""``osirisc report [RUN | --last] [-o report.html]``: one self-contained HTML page for a run.

RUN is a run id (or a unique prefix), a run directory, or ``last`` (the default). The page has no scripts and
loads nothing from the network: the graph is inline SVG, the styles are inline. Default output:
``<run dir>/report.html``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a run")
    p.add_argument("run", nargs="?", default="last", metavar="RUN", help="run id, run directory or 'last' (default)")
    p.add_argument("--last", action="store_true", help="the newest run (the default)")
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="where runs are (default: %(default)s)")
    p.add_argument("-o", "--out", metavar="FILE", help="where to write (default: <run dir>/report.html)")


def run(args: argparse.Namespace) -> int:
    from osiris.canonical import write_atomic
    from osiris.records.history import find_run, load_run, not_found
    from osiris.records.report import render_html

    ref = "last" if args.last else args.run
    found = find_run(Path(args.runs_dir), ref)
    if found is None:
        problem = not_found(Path(args.runs_dir), ref)
        print(f"osirisc report: {problem} under {args.runs_dir} (`osirisc runs list` lists them)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else found / "report.html"
    write_atomic(out, render_html(load_run(found)))
    print(f"wrote {out}", file=sys.stderr)
    return 0
