"""``osirisc run FILE --target sandbox|e2b`` and ``osirisc run --bundle B --target sandbox|e2b``.

With FILE the pipeline is compiled and its bundle emitted into a temporary folder first (the same bytes
``osirisc emit`` writes); relative paths resolve against FILE's folder. With ``--bundle`` they resolve against
``--base-dir`` (default: the working directory). The host side is osiris/backends/e2b/launch.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from osiris.backends.e2b import E2BBackend
from osiris.backends.e2b.bundle import BundleBuildError
from osiris.backends.e2b.launch import LaunchOptions, launch
from osiris.cli import common
from osiris.compile import compile_file
from osiris.render import render_json


def run_sandboxed(args: argparse.Namespace) -> int:
    prog = "osirisc run"
    if args.target == "local":
        print(f"{prog}: --bundle needs --target sandbox or --target e2b", file=sys.stderr)
        return 2
    if args.plan is not None or (args.file is None) == (args.bundle is None):
        print(
            f"{prog}: with --target {args.target} give a pipeline FILE or --bundle BUNDLE (one of them)",
            file=sys.stderr,
        )
        return 2
    if args.jobs < 1:
        print(f"{prog}: --jobs must be at least 1", file=sys.stderr)
        return 2
    options = LaunchOptions(
        target=args.target,
        base_dir=Path(args.base_dir or "."),
        runs_dir=Path(args.runs_dir),
        connections=args.connections,
        jobs=args.jobs,
        timeout=args.timeout,
        reuse_venv=args.reuse_venv,
        template=args.template,
        fmt=args.format,
    )
    if args.bundle is not None:
        return launch(Path(args.bundle), options)[0]
    params = common.parse_params(args.param)
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile)
    if common.report(result.diagnostics, result.sources, "text") or result.pipeline is None:
        if args.format == "json":
            print(render_json(result.diagnostics))
        return 2
    if args.base_dir is None:
        options.base_dir = Path(args.file).parent
    with tempfile.TemporaryDirectory(prefix="osiris-bundle-") as tmp:
        try:
            written = E2BBackend().emit(result, Path(tmp))
        except BundleBuildError as exc:
            print(f"{prog}: error[OSR-E411]: {exc}", file=sys.stderr)
            return 2
        return launch(Path(tmp) / written[0], options)[0]
