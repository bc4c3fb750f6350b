"""``osirisc connections list`` and ``osirisc connections doctor [@family.alias ...] [--pipeline FILE]``.

``list`` shows every alias of the connections file (found as ``run`` finds it) with its fields as written:
``${VAR}`` references as they are (with a note when the variable is unset), literal secrets masked. ``doctor``
connects to each alias (a short time-out), reports the server's version and whether TLS is in use, and with
``--pipeline`` whether the user has the privileges each step that uses the alias needs: SELECT for an extractor;
for a writer, INSERT, plus DELETE (replace/upsert/truncate) or CREATE in the schema when the table does not exist.
One line per problem; exit 0 only when every check passes. Secrets are resolved in memory only and never printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from osiris.cli import common

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("connections", help="list the connections file's aliases, or test them")
    action = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = action.add_parser("list", help="aliases and fields (secrets masked)")
    doctor = action.add_parser("doctor", help="connect to each alias; version, TLS and (with --pipeline) privileges")
    doctor.add_argument("refs", nargs="*", metavar="@family.alias", help="only these (default: every alias)")
    doctor.add_argument("--pipeline", metavar="FILE", help="check the privileges this pipeline's steps need")
    doctor.add_argument("--timeout", type=int, default=5, metavar="S", help="connect time-out (default: %(default)s)")
    for p2 in (listing, doctor):
        p2.add_argument("--connections", metavar="FILE", help="the connections file (default: found as run does)")
        common.add_format(p2)


def _load(args: argparse.Namespace, env: dict[str, str]) -> Any:
    from osiris.runtime.connections import Connections, find_file
    from osiris.secrets import Masker

    base = Path(args.pipeline).parent if getattr(args, "pipeline", None) else Path.cwd()
    path = find_file(args.connections, base, env)
    if path is None:
        return None
    return Connections.load(path, env, Masker())


def _shown(key: str, value: Any, masker: Any) -> Any:
    from osiris.secrets import MASK, is_placeholder, is_secret_name

    if not isinstance(value, str):
        return value
    if is_secret_name(key) and not is_placeholder(value) and "${" not in value:
        return MASK
    return masker.text(value)


def list_connections(conns: Any, env: dict[str, str]) -> list[dict[str, Any]]:
    from osiris.secrets import Masker, dsn_passwords

    masker = Masker()
    rows = []
    for family, aliases in sorted(conns.data.items()):
        for alias, fields in sorted(aliases.items()):
            for value in fields.values():
                if isinstance(value, str):
                    masker.add_all(dsn_passwords(value))
            unset = sorted(
                {m.group(1) for v in fields.values() if isinstance(v, str) for m in _VAR.finditer(v)}
                - set(env)
                - {m.group(1) for v in fields.values() if isinstance(v, str) for m in _VAR.finditer(v) if ":-" in v}
            )
            rows.append(
                {
                    "ref": f"@{family}.{alias}",
                    "default": fields.get("default") is True,
                    "fields": {k: _shown(k, v, masker) for k, v in sorted(fields.items()) if k != "default"},
                    "unset_variables": unset,
                }
            )
    return rows


def run(args: argparse.Namespace) -> int:
    import os

    from osiris.runtime.errors import RunError

    env = dict(os.environ)
    prog = f"osirisc connections {args.action}"
    try:
        conns = _load(args, env)
    except RunError as exc:
        print(f"{prog}: {exc.render()}", file=sys.stderr)
        return 2
    if conns is None:
        print(f"{prog}: no osiris_connections.yaml found (--connections, $OSIRIS_HOME, here)", file=sys.stderr)
        return 2
    if args.action == "list":
        rows = list_connections(conns, env)
        if args.format == "json":
            print(json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False))
            return 0
        print(f"{conns.origin}:")
        for row in rows:
            print(f"  {row['ref']}" + ("  (default)" if row["default"] else ""))
            for key, value in row["fields"].items():
                print(f"    {key}: {common.terminal_text(str(value))}")
            if row["unset_variables"]:
                print(f"    unset: {', '.join(row['unset_variables'])}")
        return 0
    from osiris.cli.doctor import doctor

    try:
        results = doctor(conns, args.refs, args.pipeline, args.timeout)
    except RunError as exc:
        print(f"{prog}: {exc.render()}", file=sys.stderr)
        return 2
    ok = all(r["ok"] for r in results)
    if args.format == "json":
        print(json.dumps({"ok": ok, "connections": results}, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for r in results:
            head = f"{'ok  ' if r['ok'] else 'FAIL'} {r['ref']}"
            if r.get("server"):
                head += f": {r['server']}" + (", TLS" if r.get("tls") else ", no TLS")
            print(common.terminal_text(head))
            for line in r["checks"]:
                print(common.terminal_text(f"     {line}"))
            for line in r["problems"]:
                print(common.terminal_text(f"     problem: {line}"))
    return 0 if ok else 1
