"""``osirisc emit FILE --target e2b|ray [-o DIR]``: compile a pipeline and write its sandbox bundle (e2b), or its
build directory plus ``ray-runtime-env.json`` (ray: osiris/backends/ray).

The bundle (``DIR/<pipeline>.bundle.tar.gz``, DIR defaulting to ``build/<pipeline>/``) is byte-reproducible and
holds no secret; run it with ``osirisc run --bundle B --target sandbox|e2b --expect FINGERPRINT``, the bundle
fingerprint printed here (keep it outside the bundle: it is what proves the bundle unchanged). Nothing is written
when the pipeline has errors (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from osiris.backends import BackendError, get_backend
from osiris.backends.e2b.bundle import BundleBuildError
from osiris.backends.e2b.trust import fingerprint
from osiris.backends.local import file_stem
from osiris.cli import common
from osiris.compile import compile_file

TARGETS = ("e2b", "ray")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emit", help="compile a pipeline and write a self-contained bundle for a sandbox")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", choices=TARGETS, default="e2b", help="what to emit for (default: %(default)s)")
    p.add_argument("-o", "--out", metavar="DIR", help="output directory (default: build/<pipeline-name>/)")
    common.add_syntax(p)
    common.add_compile_options(p)
    common.add_format(p)


def run(args: argparse.Namespace) -> int:
    params = common.parse_params(args.param)
    started = time.perf_counter()
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile)
    if common.report(result.diagnostics, result.sources, "text") or result.pipeline is None:
        return 2
    out = Path(args.out) if args.out is not None else Path("build") / file_stem(result.pipeline.name)
    try:
        written = get_backend(args.target).emit(result, out)
    except BundleBuildError as exc:
        print(f"osirisc emit: error[OSR-E411]: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"osirisc emit: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, quota, ulimit -f: the output is left as it was
        print(f"osirisc emit: cannot write '{out}': {exc} (left as it was)", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    if args.target == "ray":  # a build directory plus the workers' runtime environment (no bundle to trust)
        info = {"dir": str(out), "files": written, "seconds": round(elapsed, 3), "target": args.target}
        if args.format == "json":
            print(json.dumps(info, indent=2, sort_keys=True))
        else:
            print(f"emitted '{result.pipeline.name}' for Ray -> {out}/ ({', '.join(written)})")
            print(f"run it with: osirisc run --plan {out / 'plan.json'} --target ray [--address ADDR]")
        return 0
    path = out / written[0]
    data = path.read_bytes()
    info = {
        "bundle": str(path),
        "bytes": len(data),
        "fingerprint": fingerprint(data),
        "seconds": round(elapsed, 3),
        "target": args.target,
    }
    if args.format == "json":
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(f"emitted '{result.pipeline.name}' -> {path} ({len(data):,} bytes, {elapsed:.2f} s)")
        print(f"fingerprint {info['fingerprint']}")
        print(f"run it with: osirisc run --bundle {path} --target sandbox --expect {info['fingerprint']}")
    return 0
