"""``--target e2b``: run a bundle in an E2B cloud sandbox through the e2b SDK (sync API, e2b >= 2).

``Sandbox.create(template=..., timeout=..., api_key=...)`` (no sandbox-wide environment), then ``files.write`` the
bundle, the declared inputs and the secret-free connections file, unpack and build a venv with one command,
``set_timeout`` so the sandbox outlives the run, and ``commands.run`` the entry point with streamed stdout, the
secrets as that command's ``envs`` only, and a time-out suited to the pipeline. Outputs, the run record and
artifacts are read back with ``files.read``. ``kill`` runs in every exit path. SDK errors become RunErrors:
no key OSR-E405, sandbox gone or not created OSR-E406, time-out OSR-E407, a failing command OSR-E408.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from osiris.backends.e2b.host import EventSink, HostRun, Layout, default_timeout, outcome, store_file
from osiris.backends.e2b.sandbox import SandboxResult
from osiris.runtime.errors import RunError

WORK = "/home/user/osiris-run"
SETUP_TIMEOUT = 600  # seconds the sandbox lives before the run's own time-out is set
COLLECT_MARGIN = 300  # seconds left after the run command to read results back


def _sdk() -> Any:
    try:
        import e2b
    except ImportError:
        raise RunError("OSR-E405", "the e2b SDK is not installed: pip install 'osirisc[e2b]'") from None
    return e2b


@attrs.define
class E2BRunner:
    """Runs a bundle in E2B. ``sandbox_class`` defaults to ``e2b.Sandbox`` (tests pass a recording stand-in)."""

    env: Mapping[str, str]
    sandbox_class: Any = None
    template: str | None = None
    jobs: int = 4
    timeout: int | None = None

    def run(
        self, bundle: Path, host: HostRun, runs_dir: Path, listener: Callable[[dict[str, Any]], None] | None = None
    ) -> SandboxResult:
        key = self.env.get("E2B_API_KEY")
        if not key:
            raise RunError("OSR-E405", "E2B_API_KEY is not set; export it, or use --target sandbox to run locally")
        host.redactor.add(key)
        sdk = _sdk()
        cls = self.sandbox_class or sdk.Sandbox
        run_timeout = self.timeout or default_timeout(host.plan)
        started = time.monotonic()
        try:
            sbx = cls.create(template=self.template, timeout=SETUP_TIMEOUT, api_key=key)
        except Exception as exc:
            raise RunError(
                "OSR-E406", f"could not create an E2B sandbox: {self._why(exc, host)}", invalid=False
            ) from None
        try:
            return self._run(
                sbx,
                sdk,
                bundle=bundle,
                host=host,
                runs_dir=runs_dir,
                listener=listener,
                run_timeout=run_timeout,
                started=started,
            )
        except RunError:
            raise
        except sdk.TimeoutException as exc:
            raise RunError("OSR-E407", f"the E2B sandbox timed out: {self._why(exc, host)}", invalid=False) from None
        except (sdk.SandboxNotFoundException, sdk.NotFoundException, sdk.SandboxException) as exc:
            raise RunError("OSR-E406", f"the E2B sandbox failed: {self._why(exc, host)}", invalid=False) from None
        finally:
            with contextlib.suppress(Exception):  # already gone: the run's outcome is what matters
                sbx.kill()

    @staticmethod
    def _why(exc: BaseException, host: HostRun) -> str:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return host.redactor.text(f"{type(exc).__name__}: {first}".rstrip(": "))

    def _run(
        self,
        sbx: Any,
        sdk: Any,
        *,
        bundle: Path,
        host: HostRun,
        runs_dir: Path,
        listener: Callable[[dict[str, Any]], None] | None,
        run_timeout: int,
        started: float,
    ) -> SandboxResult:
        timings: dict[str, float] = {}
        sbx.files.write(f"{WORK}/bundle.tar.gz", bundle.read_bytes())
        for rel, local in sorted(host.inputs.items()):
            sbx.files.write(f"{WORK}/base/{rel}", local.read_bytes())
        if host.connections_yaml is not None:
            sbx.files.write(f"{WORK}/connections.yaml", host.connections_yaml)
        w = shlex.quote(WORK)
        setup = (
            f"mkdir -p {w}/bundle {w}/base && tar -xzf {w}/bundle.tar.gz -C {w}/bundle && "
            f"rm {w}/bundle.tar.gz && python3 -m venv {w}/venv"
        )
        self._command(sbx, sdk, setup, host, "unpacking the bundle")
        sbx.set_timeout(run_timeout + COLLECT_MARGIN)
        timings["setup"] = time.monotonic() - started
        sink = EventSink(runs_dir, host.plan["pipeline"]["name"], host.redactor, listener)
        stderr: list[str] = []
        layout = Layout(WORK, python=f"{WORK}/venv/bin/python")
        try:
            result = sbx.commands.run(
                layout.command(self.jobs, host.connections_yaml is not None),
                cwd=WORK,
                envs=dict(host.env),
                on_stdout=sink.feed,
                on_stderr=stderr.append,
                timeout=run_timeout,
            )
            code = int(result.exit_code)
        except sdk.CommandExitException as exc:
            code = int(exc.exit_code)
        except sdk.TimeoutException:
            raise RunError(
                "OSR-E407", f"the run took longer than {run_timeout} s in E2B and was stopped", invalid=False
            ) from None
        timings["execute"] = time.monotonic() - started - timings["setup"]
        run_dir = sink.close()
        err_text = host.redactor.text("".join(stderr))
        self._collect(sbx, sdk, host, run_dir, err_text)
        timings["collect"] = time.monotonic() - started - timings["setup"] - timings["execute"]
        exit_code, message = outcome(code, sink, err_text)
        return SandboxResult(exit_code, run_dir, sink.events, message, timings)

    def _command(self, sbx: Any, sdk: Any, cmd: str, host: HostRun, what: str) -> Any:
        try:
            return sbx.commands.run(cmd, timeout=SETUP_TIMEOUT)
        except sdk.CommandExitException as exc:
            lines = str(exc.stderr or "").strip().splitlines()
            tail = host.redactor.text(lines[-1] if lines else "(no error output)")
            raise RunError(
                "OSR-E408", f"{what} failed in the sandbox (exit {exc.exit_code}): {tail}", invalid=False
            ) from None

    def _collect(self, sbx: Any, sdk: Any, host: HostRun, run_dir: Path, stderr: str) -> None:
        for rel, local in sorted(host.outputs.items()):
            try:
                data = sbx.files.read(f"{WORK}/base/{rel}", format="bytes")
            except sdk.NotFoundException:
                continue  # the step failed or was skipped: nothing to bring back
            store_file(host, local, bytes(data), text=False)
        listing = self._command(
            sbx, sdk, f"cd {shlex.quote(WORK)} && (find runs artifacts -type f 2>/dev/null; true)", host, "listing"
        )
        paths = sorted(p for p in str(listing.stdout or "").splitlines() if p.strip())
        for path in paths:
            top, _, rest = path.partition("/")
            if top == "runs":
                rel = rest.split("/", 2)[-1]  # runs/<pipeline>/<run-id>/<file>
                if rel == "events.jsonl":
                    continue
                dest = run_dir / rel
            else:
                dest = run_dir / "artifacts" / rest
            store_file(host, dest, bytes(sbx.files.read(f"{WORK}/{path}", format="bytes")), text=True)
        store_file(host, run_dir / "artifacts" / "stderr.log", stderr.encode("utf-8"), text=True)
