"""``osirisc runs list [--pipeline P] [--limit N]`` and ``osirisc runs show RUN``: past runs, newest first.

RUN is a run id (or a unique prefix of one), a run directory, or ``last``. Reads ``--runs-dir`` (default
``runs``); ``--format json`` for scripts and agents.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from osiris.cli import common
from osiris.render import printable


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list past runs, or show one")
    action = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = action.add_parser("list", help="past runs, newest first")
    listing.add_argument("--pipeline", help="only this pipeline's runs")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default: %(default)s; 0: all)")
    show = action.add_parser("show", help="one run: status, steps, errors")
    show.add_argument("run", metavar="RUN", help="a run id (or unique prefix), a run directory, or 'last'")
    for p2 in (listing, show):
        p2.add_argument("--runs-dir", default="runs", metavar="DIR", help="where runs are (default: %(default)s)")
        common.add_format(p2)


def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _lines(text: object, indent: str) -> str:
    """A recorded message for the terminal: its lines kept, every control sequence in them shown escaped (an error
    can quote data, and a run folder can be edited)."""
    return f"\n{indent}       ".join(printable(line) for line in str(text).splitlines())


def run(args: argparse.Namespace) -> int:
    from osiris.records.history import find_run, list_runs, load_run, not_found
    from osiris.records.report import step_rows

    runs_dir = Path(args.runs_dir)
    if args.action == "list":
        runs = list_runs(runs_dir, args.pipeline, args.limit or None)
        if args.format == "json":
            print(json.dumps([r.as_dict() for r in runs], indent=2, sort_keys=True, ensure_ascii=False))
            return 0
        if not runs:
            print(f"no runs under {runs_dir}", file=sys.stderr)
            return 0
        print(f"{'run':<24} {'pipeline':<22} {'status':<10} {'started (UTC)':<19} {'duration':>9} {'rows':>12}  failed")
        for r in runs:
            duration = f"{r.duration_s:.2f} s" if r.duration_s is not None else "?"
            rows = f"{r.rows:,}" if r.rows is not None else "?"
            first_line = next(iter((r.error or "").splitlines()), "")  # an error may be "" or blank
            failed = f"{r.failed_step}: {first_line[:80]}" if r.failed_step else ""
            when = _when(r.started)
            run_id, pipeline, status = printable(r.run_id), printable(r.pipeline[:22]), printable(r.status)
            print(f"{run_id:<24} {pipeline:<22} {status:<10} {when:<19} {duration:>9} {rows:>12}  {printable(failed)}")
        return 0
    found = find_run(runs_dir, args.run)
    if found is None:
        print(
            f"osirisc runs show: {not_found(runs_dir, args.run)} under {runs_dir} (`osirisc runs list` lists them)",
            file=sys.stderr,
        )
        return 2
    record = load_run(found)
    steps = step_rows(record)
    if args.format == "json":
        data = {**record.summary.as_dict(), "steps": steps, "ddl": record.ddl}
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
        return 0
    s = record.summary
    print(f"run {printable(s.run_id)} of {printable(s.pipeline)}: {printable(s.status)}")
    print(f"  started {_when(s.started)} UTC, " + (f"{s.duration_s:.2f} s" if s.duration_s is not None else "?"))
    print(f"  record: {printable(str(s.path))}")
    for step in steps:
        counts = ", ".join(
            f"{k.replace('_', ' ')} {step[k]:,}"
            for k in ("rows_in", "rows_out", "rows_written")
            if isinstance(step.get(k), int) and step[k]
        )
        ms = step.get("duration_ms")
        took = f" in {ms:,} ms" if isinstance(ms, int) else ""
        status = printable(str(step.get("status")))
        print(f"  [{printable(str(step['step']))}] {status}{took}" + (f": {counts}" if counts else ""))
        if step.get("error"):
            print(f"      error: {_lines(step['error'], '      ')}")
    if s.error and not any(step.get("error") for step in steps):
        print(f"  error: {_lines(s.error, '  ')}")
    return 0
