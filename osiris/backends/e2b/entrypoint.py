"""The entry point of an osirisc bundle (copied into it as ``entrypoint.py``; standard library only until phase 4).

``python entrypoint.py [--base-dir D] [--runs-dir D] [--artifacts D] [--connections F] [--jobs N]`` runs, in order:

1. every file against ``SHA256SUMS`` (a changed, missing or unlisted file: exit 10, nothing else runs);
2. the drivers carried against the plan's registry fingerprint (``drivers.json``, ``fingerprints.json``): exit 11;
3. ``requirements.txt``: pins not installed at their version are installed with pip, output kept in
   ``<artifacts>/pip-install.log`` (pip failed: exit 12);
4. every required import (the runtime, each step's driver, from this bundle); what is missing is reported in an
   ``imports_checked`` event (anything missing: exit 13);
5. the plan, with every event written as one JSON line on stdout (the schema of ``events.jsonl``).

Exit codes 0/1/2/4 and 128 + N (cancelled by signal N) are the runtime's. Human messages go to stderr. The host
module (``osiris.backends.e2b``) imports this file to verify a bundle before it installs anything.

Started by a local host (``OSIRIS_HOST_PID`` set), the entry point dies with it: on Linux the kernel sends SIGTERM
when the host ends (``prctl(PR_SET_PDEATHSIG)``), elsewhere a thread watches the parent pid. SIGTERM cancels the
run cleanly (writes roll back), so a killed host leaves no process holding the run's secrets.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

EXIT_TAMPERED, EXIT_FINGERPRINT, EXIT_INSTALL, EXIT_IMPORTS = 10, 11, 12, 13
CODES = {EXIT_TAMPERED: "OSR-E400", EXIT_FINGERPRINT: "OSR-E401", EXIT_INSTALL: "OSR-E402", EXIT_IMPORTS: "OSR-E403"}
SUMS = "SHA256SUMS"
_SUM_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")
_REQ_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$")


class BundleError(Exception):
    """A bundle that must not run; ``exit_code`` is one of the EXIT_* codes."""

    def __init__(self, exit_code: int, message: str):
        super().__init__(message)
        self.exit_code = exit_code
        self.code = CODES[exit_code]


def canonical_sha256(data: Any) -> str:
    """sha256 of compact canonical JSON (the same bytes as ``osiris.canonical.sha256``)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_sums(files: dict[str, bytes]) -> str:
    """``SHA256SUMS`` text (``sha256sum -c`` format), one line per file, sorted by path."""
    return "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files))


def parse_sums(text: str) -> dict[str, str]:
    sums: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        match = _SUM_LINE.match(line)
        if match is None:
            raise BundleError(EXIT_TAMPERED, f"{SUMS} line {n} is malformed")
        sums[match.group(2)] = match.group(1)
    return sums


def verify_checksums(root: Path) -> int:
    """Check every file under ``root`` against SHA256SUMS; returns the number of files. Raises BundleError."""
    sums_path = root / SUMS
    if not sums_path.is_file():
        raise BundleError(EXIT_TAMPERED, f"bundle refused: {SUMS} is missing")
    try:
        sums = parse_sums(sums_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BundleError(EXIT_TAMPERED, f"bundle refused: {SUMS} is not text") from None
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    present.discard(SUMS)
    problems = [f"{p}: missing" for p in sorted(set(sums) - present)]
    problems += [f"{p}: not listed in {SUMS}" for p in sorted(present - set(sums))]
    for path in sorted(set(sums) & present):
        target = root / path
        if target.is_symlink() or file_sha256(target) != sums[path]:
            problems.append(f"{path}: checksum mismatch")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise BundleError(EXIT_TAMPERED, f"bundle refused, it was changed after it was emitted: {shown}")
    return len(sums)


def read_requirements(root: Path) -> list[tuple[str, str, str]]:
    """(name, extras, version) of every pinned line of requirements.txt."""
    pins = []
    for raw in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _REQ_LINE.match(line)
        if match is None:
            raise BundleError(EXIT_FINGERPRINT, f"requirements.txt: not an exact pin: {line!r}")
        pins.append((match.group(1), match.group(2) or "", match.group(3)))
    return pins


def verify_drivers(root: Path, plan: dict[str, Any]) -> list[str]:
    """Check the carried drivers and specs against the plan's registry and fingerprints; returns component names."""
    fingerprints = json.loads((root / "fingerprints.json").read_text(encoding="utf-8"))
    drivers = json.loads((root / "drivers.json").read_text(encoding="utf-8"))
    registry = plan.get("registry") or {}
    problems = []
    if fingerprints.get("plan") != canonical_sha256(plan):
        problems.append("plan.json does not match its fingerprint")
    stripped = {name: {k: v for k, v in entry.items() if k != "packages"} for name, entry in registry.items()}
    if fingerprints.get("registry") != canonical_sha256(stripped):
        problems.append("the plan's registry does not match its fingerprint")
    packages = [f"{n}{e}=={v}" for n, e, v in read_requirements(root)]
    if fingerprints.get("requirements") != canonical_sha256(packages):
        problems.append("requirements.txt does not match its fingerprint")
    if sorted(drivers) != sorted(registry):
        problems.append(f"drivers carried {sorted(drivers)} differ from the plan's components {sorted(registry)}")
    for name in sorted(set(drivers) & set(registry)):
        entry, want = drivers[name], registry[name]
        if entry.get("driver") != want.get("driver"):
            problems.append(f"{name}: driver {entry.get('driver')!r} is not the plan's {want.get('driver')!r}")
        spec = root / str(entry.get("spec", ""))
        if not spec.is_file() or canonical_sha256(json.loads(spec.read_text("utf-8"))) != want.get("spec_sha256"):
            problems.append(f"{name}: the carried spec does not match the plan's spec_sha256")
        for rel, sha in sorted((entry.get("files") or {}).items()):
            if not (root / rel).is_file() or file_sha256(root / rel) != sha:
                problems.append(f"{name}: {rel} does not match the driver fingerprint")
    for step in plan.get("steps", []):
        if (registry.get(step.get("component")) or {}).get("driver") != step.get("driver"):
            problems.append(f"step '{step.get('id')}': driver is not the registry's for {step.get('component')}")
    if problems:
        raise BundleError(EXIT_FINGERPRINT, "bundle refused, drivers do not match the plan: " + "; ".join(problems))
    return sorted(registry)


def missing_pins(pins: list[tuple[str, str, str]]) -> list[str]:
    """The pins not installed at exactly their version (``name==version``)."""
    missing = []
    for name, extras, version in pins:
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found = None
        if found != version:
            missing.append(f"{name}{extras}=={version}")
    return missing


def install(root: Path, artifacts: Path) -> dict[str, Any]:
    """Install the pins that are missing; pip's output goes to ``artifacts/pip-install.log``."""
    pins = read_requirements(root)
    missing = missing_pins(pins)
    artifacts.mkdir(parents=True, exist_ok=True)
    log = artifacts / "pip-install.log"
    if not missing:
        log.write_text(f"all {len(pins)} requirements already installed; pip not run\n", encoding="utf-8")
        return {"installed": [], "already": len(pins), "log": "artifacts/pip-install.log"}
    cmd = [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", *missing]
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(cmd[1:]) + "\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise BundleError(EXIT_INSTALL, f"pip could not install {', '.join(missing)} (see artifacts/pip-install.log)")
    return {
        "installed": missing,
        "already": len(pins) - len(missing),
        "log": "artifacts/pip-install.log",
        "duration_ms": int((time.monotonic() - started) * 1000),
    }


def check_imports(root: Path, plan: dict[str, Any]) -> list[str]:
    """What cannot be imported (from this bundle): runtime modules, every step's driver, each pinned version."""
    missing = missing_pins(read_requirements(root))
    modules = ["osiris.runtime.engine", "osiris.runtime.plan"]
    modules += sorted({str(s["driver"]) for s in plan.get("steps", [])})
    for target in modules:
        module, _, attr = target.partition(":")
        try:
            loaded = importlib.import_module(module)
            if attr and not hasattr(loaded, attr):
                missing.append(f"{target} (no attribute {attr})")
            elif not Path(str(loaded.__file__)).resolve().is_relative_to(root.resolve()):
                missing.append(f"{module} (imported from outside the bundle)")
        except ImportError as exc:
            missing.append(f"{target} ({type(exc).__name__}: {exc})")
    return missing


class Events:
    """Writes events as JSON lines (the run's ``events.jsonl`` schema) to the real stdout."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()

    def emit(self, kind: str, **data: Any) -> None:
        self({"ts": round(time.time(), 6), "event": kind, "step": None, **data})


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGTERM to this process when the host that started it (``OSIRIS_HOST_PID``) ends."""
    host = os.environ.get("OSIRIS_HOST_PID", "")
    if not host.isdigit():
        return
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != int(host):  # the host ended before the death signal was armed
        os.kill(os.getpid(), signal.SIGTERM)
    if not armed:
        threading.Thread(target=_watch_parent, args=(int(host),), name="parent-watch", daemon=True).start()


def _watch_parent(host: int) -> None:
    while os.getppid() == host:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    sys.dont_write_bytecode = True  # the bundle folder stays exactly what SHA256SUMS lists
    parser = argparse.ArgumentParser(prog="entrypoint.py", description="Verify, install and run this bundle.")
    parser.add_argument("--base-dir", default=".", help="where relative paths in the plan resolve")
    parser.add_argument("--runs-dir", default="runs", help="where the run record goes")
    parser.add_argument("--artifacts", default="artifacts", help="where pip's log goes")
    parser.add_argument("--connections", help="osiris_connections.yaml (no secret values: ${VAR} references)")
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent
    events = Events(sys.stdout)
    sys.stdout = sys.stderr  # anything else printed (drivers, libraries) must not corrupt the event stream
    try:
        count = verify_checksums(root)
        plan = json.loads((root / "plan.json").read_text(encoding="utf-8"))
        components = verify_drivers(root, plan)
        events.emit("bundle_verified", files=count, components=components)
        events.emit("requirements_installed", **install(root, Path(args.artifacts)))
        missing = check_imports(root, plan)
        events.emit("imports_checked", missing=missing)
        if missing:
            raise BundleError(EXIT_IMPORTS, "required imports are missing: " + ", ".join(missing))
    except BundleError as exc:
        events.emit("bundle_error", code=exc.code, exit_code=exc.exit_code, message=str(exc))
        print(f"error[{exc.code}]: {exc}", file=sys.stderr)
        return exc.exit_code
    return run(plan, args, events)


def run(plan: dict[str, Any], args: argparse.Namespace, events: Events) -> int:
    """Phase 5: the runtime, with events to stdout. Imported only now, after every check passed."""
    from osiris.runtime.cancel import CancelToken, handle_signals
    from osiris.runtime.cli import hard_exit, outcome
    from osiris.runtime.engine import RunOptions, run_plan
    from osiris.runtime.errors import RunError
    from osiris.runtime.plan import validate_plan

    # the drivers this bundle carries were checked against the plan's registry (verify_drivers): a third-party
    # one is trusted here, where its distribution's osiris.components entry point is not installed
    carried = [str(e.get("driver", "")).partition(":")[0] for e in (plan.get("registry") or {}).values()]
    os.environ["OSIRIS_DRIVER_MODULES"] = ",".join([os.environ.get("OSIRIS_DRIVER_MODULES", ""), *carried])
    cancel = CancelToken()
    options = RunOptions(
        base_dir=Path(args.base_dir),
        runs_dir=Path(args.runs_dir),
        connections=args.connections,
        jobs=max(1, args.jobs),
        listeners=[events],
        cancel=cancel,
    )
    try:
        validate_plan(plan)
        with handle_signals(cancel):
            result = run_plan(plan, options)
    except RunError as exc:
        events.emit("run_error", code=exc.code, message=exc.message)
        print(exc.render(), file=sys.stderr)
        return 2 if exc.invalid else 1
    print(f"run record: {result.run_dir}", file=sys.stderr)
    code = outcome(result, "entrypoint.py", plan)
    if result.cancel is not None:
        hard_exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
