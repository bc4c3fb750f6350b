"""``--target sandbox``: the local stand-in for an E2B sandbox, with the same contract.

Each run unpacks the bundle into a fresh temporary folder, checks its checksums and drivers on the host before
installing anything, creates a fresh virtualenv without system site-packages, installs ``requirements.txt``
into it (pip's output kept as ``artifacts/venv-install.log``), then runs the entry point as a subprocess whose
environment is only the run command's: ``PATH`` to the venv, ``HOME`` in the folder, and the secrets
``host.prepare`` resolved. Events stream from its stdout into the local run directory; declared outputs and the
sandbox's run record come back; the folder is removed in every exit path.

The folder belongs to this process (``.owner``): a host killed with SIGKILL cannot remove it, so the next
sandbox run removes every ``osiris-sandbox-*`` folder whose owner is gone. The entry point gets the host's pid
(``OSIRIS_HOST_PID``) and dies with it (entrypoint.die_with_parent). SIGINT/SIGTERM/SIGHUP of the host are passed
on to the entry point as SIGTERM, which cancels its run cleanly; its record and exit code (128 + N) come back.

Set-up can be shortened without changing what runs: ``venv=`` uses a prebuilt venv (tests share one), and
``reuse_venv=True`` keeps venvs in a cache keyed by the sha256 of requirements.txt and the Python version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from osiris.backends.e2b import entrypoint
from osiris.backends.e2b.host import EventSink, HostRun, Layout, default_timeout, outcome, store_file
from osiris.backends.e2b.tarball import ArchiveError, extract_tar_gz
from osiris.runtime import owner
from osiris.runtime.cancel import SIGNALS
from osiris.runtime.errors import RunError

PREFIX = "osiris-sandbox-"


@attrs.define
class SandboxResult:
    exit_code: int
    run_dir: Path
    events: list[dict[str, Any]]
    message: str | None
    timings: dict[str, float]  # seconds: setup (unpack, verify, venv), execute (the entry point), collect


def venv_key(requirements: bytes, python: str = sys.executable) -> str:
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return hashlib.sha256(requirements + b"\0" + version.encode()).hexdigest()[:24]


def create_venv(dest: Path, requirements: Path, log: Path, python: str = sys.executable) -> None:
    """A fresh venv without system site-packages, with exactly ``requirements`` installed. Raises RunError."""
    log.parent.mkdir(parents=True, exist_ok=True)
    host_pip = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0
    venv_cmd = [python, "-m", "venv", *(["--without-pip"] if host_pip else []), str(dest)]
    pip = (
        [python, "-m", "pip", "--python", str(dest / "bin" / "python")]
        if host_pip
        else [str(dest / "bin" / "python"), "-m", "pip"]
    )
    install = [*pip, "install", "--no-input", "--disable-pip-version-check", "-r", str(requirements)]
    with log.open("a", encoding="utf-8") as fh:
        for cmd in (venv_cmd, install):
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            if subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode != 0:
                raise RunError("OSR-E410", f"could not build the sandbox's virtualenv (see {log.name})", invalid=False)


def cached_venv(requirements: Path, cache_dir: Path, log: Path, python: str = sys.executable) -> Path:
    """The cached venv for these requirements, built once (into a temp name, then renamed)."""
    dest = cache_dir / venv_key(requirements.read_bytes(), python)
    if (dest / "bin" / "python").exists():
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"reused cached venv {dest.name}\n", encoding="utf-8")
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=cache_dir))
    try:
        create_venv(tmp, requirements, log, python)
        tmp.replace(dest)  # the entry point runs as `<venv>/bin/python file`: a renamed venv still finds its site
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "osirisc" / "venvs"


@attrs.define
class LocalSandbox:
    """Runs a bundle like a sandbox would, on this machine."""

    venv: Path | None = None  # a prebuilt venv to use as is (it must hold requirements.txt's pins)
    reuse_venv: bool = False
    cache_dir: Path = attrs.field(factory=default_cache_dir)
    python: str = sys.executable
    jobs: int = 4
    timeout: int | None = None

    def run(
        self, bundle: Path, host: HostRun, runs_dir: Path, listener: Callable[[dict[str, Any]], None] | None = None
    ) -> SandboxResult:
        timings: dict[str, float] = {}
        started = time.monotonic()
        owner.remove_stale(sorted(Path(tempfile.gettempdir()).glob(f"{PREFIX}*")))
        work = Path(tempfile.mkdtemp(prefix=PREFIX))
        try:
            owner.mark(work)
            root = work / "bundle"
            try:
                extract_tar_gz(bundle, root)
            except (ArchiveError, OSError) as exc:
                raise RunError("OSR-E404", f"cannot unpack bundle '{bundle.name}': {exc}") from None
            sink = EventSink(runs_dir, host.plan["pipeline"]["name"], host.redactor, listener)
            try:
                entrypoint.verify_checksums(root)
                entrypoint.verify_drivers(root, json.loads((root / "plan.json").read_text(encoding="utf-8")))
            except entrypoint.BundleError as exc:
                sink.feed(_event_line("bundle_error", code=exc.code, exit_code=exc.exit_code, message=str(exc)))
                run_dir = sink.close()
                return SandboxResult(exc.exit_code, run_dir, sink.events, str(exc), timings)
            venv = self._venv(root / "requirements.txt", work)
            (work / "base").mkdir()
            for rel, local in sorted(host.inputs.items()):
                (work / "base" / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, work / "base" / rel)
            if host.connections_yaml is not None:
                (work / "connections.yaml").write_text(host.connections_yaml, encoding="utf-8")
            timings["setup"] = time.monotonic() - started
            code, stderr = self._execute(work, venv, host, sink)
            timings["execute"] = time.monotonic() - started - timings["setup"]
            run_dir = sink.close()
            collect(work, host, run_dir, stderr)
            timings["collect"] = time.monotonic() - started - timings["setup"] - timings["execute"]
            exit_code, message = outcome(code, sink, stderr)
            return SandboxResult(exit_code, run_dir, sink.events, message, timings)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _venv(self, requirements: Path, work: Path) -> Path:
        log = work / "artifacts" / "venv-install.log"
        if self.venv is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"prebuilt venv {self.venv.name} used as is\n", encoding="utf-8")
            return self.venv
        if self.reuse_venv:
            return cached_venv(requirements, self.cache_dir, log, self.python)
        create_venv(work / "venv", requirements, log, self.python)
        return work / "venv"

    def _execute(self, work: Path, venv: Path, host: HostRun, sink: EventSink) -> tuple[int, str]:
        layout = Layout(str(work), python=str(venv / "bin" / "python"))
        env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "OSIRIS_HOST_PID": str(os.getpid()),
            **host.env,
        }
        cmd = layout.command(self.jobs, host.connections_yaml is not None).split(" ")
        timeout = self.timeout or default_timeout(host.plan)
        with (work / "stderr.log").open("w+", encoding="utf-8") as err:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
            killed: list[bool] = []

            def stop() -> None:
                killed.append(True)
                proc.kill()

            timer = threading.Timer(timeout, stop)
            timer.start()
            try:
                assert proc.stdout is not None
                with _pass_signals_on(proc):
                    for line in proc.stdout:
                        sink.feed(line)
                    code = proc.wait()
            finally:
                timer.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            err.seek(0)
            stderr = err.read()
        if killed:
            raise RunError("OSR-E407", f"the sandboxed run took longer than {timeout} s and was stopped", invalid=False)
        return code, host.redactor.text(stderr)


@contextlib.contextmanager
def _pass_signals_on(proc: subprocess.Popen[str]) -> Iterator[None]:
    """While the entry point runs, a signal to the host asks it to stop (SIGTERM: a clean cancellation); the
    host keeps reading its events and collects its record. Main thread only (elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGTERM)

    for name in SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) != signal.SIG_IGN:
            previous[signum] = signal.signal(signum, forward)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _event_line(kind: str, **data: Any) -> str:
    return json.dumps({"ts": round(time.time(), 6), "event": kind, "step": None, **data}, sort_keys=True) + "\n"


def collect(work: Path, host: HostRun, run_dir: Path, stderr: str) -> None:
    """Bring back declared outputs, the sandbox's run record and artifacts (text redacted)."""
    for rel, local in sorted(host.outputs.items()):
        produced = work / "base" / rel
        if produced.is_file():
            store_file(host, local, produced.read_bytes(), text=False)
    records = sorted((work / "runs").glob("*/*/"))
    if records:
        for path in sorted(records[-1].rglob("*")):
            rel = path.relative_to(records[-1]).as_posix()
            if path.is_file() and rel != "events.jsonl":
                store_file(host, run_dir / rel, path.read_bytes(), text=True)
    for path in sorted((work / "artifacts").rglob("*")):
        if path.is_file():
            store_file(host, run_dir / "artifacts" / path.relative_to(work / "artifacts"), path.read_bytes(), True)
    store_file(host, run_dir / "artifacts" / "stderr.log", stderr.encode("utf-8"), text=True)
