"""Running a bundle from the command line: ``osirisc run [FILE | --bundle B] --target sandbox|e2b``.

Reads the plan out of the bundle, resolves connections and files on the host (``host.prepare``), hands the
bundle to the stand-in or to E2B, prints progress (the runtime's reporter) and the outcome. Exit codes: the
runtime's 0/1/2, the entry point's own 10-13 for a refused bundle, 2 for a bundle that cannot be read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from osiris.backends.e2b.host import prepare
from osiris.backends.e2b.remote import E2BRunner
from osiris.backends.e2b.sandbox import LocalSandbox, SandboxResult
from osiris.backends.e2b.tarball import ArchiveError, read_tar_gz
from osiris.backends.e2b.trust import EXIT_UNTRUSTED, UntrustedBundle, verified_copy
from osiris.runtime.console import Reporter
from osiris.runtime.errors import RunError
from osiris.runtime.plan import validate_plan

TARGETS = ("sandbox", "e2b")


@attrs.define
class LaunchOptions:
    target: str
    base_dir: Path
    expect: str  # the bundle fingerprint (trust.fingerprint) the bytes must have: the host trusts nothing else
    runs_dir: Path = Path("runs")
    connections: str | None = None
    jobs: int = 4
    timeout: int | None = None
    reuse_venv: bool = False
    template: str | None = None
    fmt: str = "text"
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ))
    venv: Path | None = None  # a prebuilt venv for the stand-in (tests)
    sandbox_class: Any = None  # an e2b.Sandbox replacement (tests)


def bundle_plan(bundle: Path) -> dict[str, Any]:
    """The plan.json inside a bundle, validated. Raises RunError (OSR-E404 or the runtime's plan codes)."""
    try:
        files = read_tar_gz(bundle.read_bytes())
    except OSError as exc:
        raise RunError("OSR-E404", f"cannot read bundle '{bundle}': {type(exc).__name__}") from None
    except ArchiveError as exc:
        raise RunError("OSR-E404", f"cannot read bundle '{bundle.name}': {exc}") from None
    if "plan.json" not in files:
        raise RunError("OSR-E404", f"'{bundle.name}' is not an osirisc bundle (no plan.json)")
    try:
        plan = json.loads(files["plan.json"])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RunError("OSR-E404", f"plan.json in '{bundle.name}' is not JSON") from None
    validate_plan(plan)
    return dict(plan)


def launch(bundle: Path, options: LaunchOptions) -> tuple[int, SandboxResult | None]:
    """Run ``bundle`` on ``options.target`` if its bytes have the fingerprint ``options.expect``; prints progress
    and errors to stderr. Returns (exit code, result)."""
    prog = f"osirisc run --target {options.target}"
    try:
        with verified_copy(bundle, options.expect) as trusted:
            return _launch_trusted(trusted, options, prog)
    except UntrustedBundle as exc:
        print(f"{prog}: {exc.render()}", file=sys.stderr)
        return EXIT_UNTRUSTED, None
    except RunError as exc:
        print(f"{prog}: {exc.render()}", file=sys.stderr)
        return 2, None


def _launch_trusted(bundle: Path, options: LaunchOptions, prog: str) -> tuple[int, SandboxResult | None]:
    try:
        plan = bundle_plan(bundle)
        host = prepare(plan, options.base_dir, options.connections, options.env)
        reporter = Reporter(options.fmt, live=False)
        runner: LocalSandbox | E2BRunner
        if options.target == "e2b":
            runner = E2BRunner(
                env=options.env,
                sandbox_class=options.sandbox_class,
                template=options.template,
                jobs=options.jobs,
                timeout=options.timeout,
            )
        else:
            runner = LocalSandbox(
                venv=options.venv, reuse_venv=options.reuse_venv, jobs=options.jobs, timeout=options.timeout
            )
        result = runner.run(bundle, host, options.runs_dir, reporter)
    except RunError as exc:
        print(f"{prog}: {exc.render()}", file=sys.stderr)
        return (2 if exc.invalid else 1), None
    if result.message:
        print(f"{prog}: {result.message}", file=sys.stderr)
    if options.fmt == "json":
        status_file = result.run_dir / "status.json"
        status = json.loads(status_file.read_text(encoding="utf-8")) if status_file.is_file() else {"ok": False}
        status["sandbox"] = {"target": options.target, "exit_code": result.exit_code, "timings_s": result.timings}
        print(json.dumps(status, sort_keys=True, indent=2, ensure_ascii=False))
    else:
        spent = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
        print(f"run record: {result.run_dir}" + (f" ({options.target}: {spent})" if spent else ""), file=sys.stderr)
    return result.exit_code, result
