"""``osirisc explain CODE``: print a diagnostic code's entry from the catalogue."""

from __future__ import annotations

import argparse
import sys

from osiris.ir.catalogue import catalogue


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="explain a diagnostic code (e.g. OSR-E012)")
    p.add_argument("code", nargs="?", help="the code; without it, list every code")


def run(args: argparse.Namespace) -> int:
    codes = catalogue()
    if args.code is None:
        for info in codes.values():
            print(f"{info.code}  {info.title}")
        return 0
    code = args.code.upper()
    if not code.startswith("OSR-"):
        code = f"OSR-{code}"
    found = codes.get(code)
    if found is None:
        print(f"osirisc explain: unknown code {args.code!r} (`osirisc explain` lists them)", file=sys.stderr)
        return 2
    print(f"{found.code}: {found.title}\n\n{found.explanation.strip()}")
    if found.example:
        print(f"\nExample:\n\n{found.example.rstrip()}")
    return 0
