"""The host side of a sandboxed run, shared by the local stand-in and E2B.

- ``prepare``: resolve the plan's connections here, at run time; write a connections file for the sandbox whose
  secret fields are ``${OSIRIS_SECRET_...}`` references, and return the secret values separately, as the
  environment of the run command only. Every secret value goes to the run's redactor.
- the files a run reads (CSV/DuckDB inputs, existing DuckDB targets) and writes (declared outputs), as paths
  relative to the base directory, which is rebuilt inside the sandbox under ``base/``;
- ``EventSink``: the streamed stdout, split into JSON event lines, redacted, written into a normal local run
  directory (``runs/<pipeline>/<run-id>/events.jsonl``) and handed to a listener;
- ``Layout``: the sandbox's working folder and the entry point's command line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
import yaml

from osiris.runtime.connections import Connections, find_file
from osiris.runtime.errors import RunError
from osiris.runtime.redact import Redactor
from osiris.runtime.rundir import new_run_id, safe_name, write_atomic
from osiris.secrets import markers, secret_values

EXIT_CODES = {10: "bundle refused (checksums)", 11: "bundle refused (drivers)", 12: "install failed", 13: "imports"}


@attrs.define
class Layout:
    """Folders inside the sandbox, relative to its working folder ``root``."""

    root: str
    python: str = "python3"

    def command(self, jobs: int, with_connections: bool) -> str:
        parts = [
            self.python,
            "bundle/entrypoint.py",
            "--base-dir",
            "base",
            "--runs-dir",
            "runs",
            "--artifacts",
            "artifacts",
            "--jobs",
            str(jobs),
        ]
        if with_connections:
            parts += ["--connections", "connections.yaml"]
        return " ".join(parts)


@attrs.define
class HostRun:
    """What a sandboxed run needs from the host. ``env`` holds secret values: only ever a command's environment."""

    plan: dict[str, Any]
    redactor: Redactor
    connections_yaml: str | None = None
    env: dict[str, str] = attrs.field(factory=dict, repr=False)
    inputs: dict[str, Path] = attrs.field(factory=dict)  # path under base/ -> local file to upload
    outputs: dict[str, Path] = attrs.field(factory=dict)  # path under base/ -> local destination


def _env_name(*parts: str) -> str:
    return "OSIRIS_SECRET_" + re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_")


Ref = tuple[str, str | None]


def _refs(plan: Mapping[str, Any]) -> tuple[dict[Ref, set[str]], set[str]]:
    """(connection reference -> the secret fields of the steps using it, environment variable names of env
    secrets) the plan uses."""
    refs: dict[Ref, set[str]] = {}
    env_names: set[str] = set()
    for step in plan["steps"]:
        secret_fields = set(step.get("secret_fields", ()))
        conn = step.get("connection")
        if conn:
            refs.setdefault((conn["family"], conn.get("alias")), set()).update(secret_fields)
        for m in markers(step.get("config", {})):
            if m.get("source") == "env":
                env_names.add(str(m.get("name")))
            elif m.get("connection"):
                family, _, alias = str(m["connection"]).removeprefix("@").partition(".")
                refs.setdefault((family, alias or None), set()).update(secret_fields)
    return refs, env_names


def sandbox_connections(conns: Connections, refs: Mapping[Ref, set[str]]) -> tuple[str, dict[str, str]]:
    """The sandbox's connections YAML (secrets as ``${VAR}``) and the VAR -> value environment. A field is
    secret when a step's spec says so, by the name rule, or when it holds a DSN/URL with a password."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    env: dict[str, str] = {}
    for (family, alias), secret_fields in sorted(refs.items(), key=lambda r: (r[0][0], r[0][1] or "")):
        name = conns.choose(family, alias)
        fields = conns.resolve(family, name, secret_fields)
        entry: dict[str, Any] = {}
        for key, value in sorted(fields.items()):
            if isinstance(value, str) and (secret_values({key: value}, secret_fields) or "${" in value):
                var = _env_name(family, name, key)
                env[var] = value
                entry[key] = "${" + var + "}"
            elif isinstance(value, dict) and secret_values({key: value}, secret_fields):  # HTTP headers: each value
                entry[key] = {}
                for sub, text in sorted(value.items()):
                    var = _env_name(family, name, f"{key}_{sub}")
                    env[var] = str(text)
                    entry[key][sub] = "${" + var + "}"
            else:
                entry[key] = value
        if alias is None:
            entry["default"] = True
        out.setdefault(family, {})[name] = {**out.get(family, {}).get(name, {}), **entry}
    header = "# Written by the osirisc host for one sandboxed run: secret values are only in the run's environment.\n"
    return header + yaml.safe_dump({"connections": out}, sort_keys=True), env


def _file_steps(plan: Mapping[str, Any], conns: Connections) -> list[tuple[Mapping[str, Any], PurePosixPath]]:
    found = []
    for step in plan["steps"]:
        value = (step.get("config") or {}).get("path")
        if not isinstance(value, str):
            continue
        path = PurePosixPath(value)
        conn = step.get("connection")
        if conn and conn["family"] == "filesystem":
            base = conns.resolve(conn["family"], conn.get("alias")).get("base_dir")
            if isinstance(base, str) and base:
                path = PurePosixPath(base) / path
        if path.is_absolute() or ".." in path.parts or value.startswith("~"):
            raise RunError(
                "OSR-E409",
                f"step '{step['id']}': path '{path}' is outside the pipeline folder and cannot be reached from a "
                "sandbox; use a path relative to the pipeline's folder",
            )
        found.append((step, path))
    return found


def prepare(plan: dict[str, Any], base_dir: Path, connections: str | None, env: Mapping[str, str]) -> HostRun:
    """Resolve connections and files for a sandboxed run of ``plan``. Raises RunError (nothing written)."""
    redactor = Redactor()
    env_copy = dict(env)
    refs, env_names = _refs(plan)
    path = find_file(connections, base_dir, env_copy)
    if refs and path is None:
        raise RunError("OSR-E310", "the plan uses connections but no osiris_connections.yaml was found")
    conns = Connections.load(path, env_copy, redactor)
    run = HostRun(plan=plan, redactor=redactor)
    if refs:
        run.connections_yaml, run.env = sandbox_connections(conns, refs)
    for name in sorted(env_names):
        if name in env_copy:
            run.env[name] = env_copy[name]
            redactor.add(env_copy[name])
    for step, rel in _file_steps(plan, conns):
        local = base_dir / rel
        if step.get("mode") == "write":
            run.outputs[rel.as_posix()] = local
            if "table" in (step.get("config") or {}) and local.is_file():
                run.inputs[rel.as_posix()] = local  # a database file the writer adds to
        elif local.is_file():
            run.inputs[rel.as_posix()] = local
    return run


def default_timeout(plan: Mapping[str, Any]) -> int:
    """Seconds the run command may take: five minutes plus two per step."""
    return 300 + 120 * len(plan["steps"])


class EventSink:
    """Turns streamed stdout into events: each complete JSON line is redacted, recorded and passed on.

    The local run directory is named after the sandbox's run id (from ``run_start``); events before it are held.
    Lines that are not JSON events are kept, redacted, in ``artifacts/stdout.log``.
    """

    def __init__(
        self,
        runs_dir: Path,
        pipeline: str,
        redactor: Redactor,
        listener: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.runs_dir = runs_dir
        self.pipeline = pipeline
        self.redactor = redactor
        self.listener = listener
        self.events: list[dict[str, Any]] = []
        self.other: list[str] = []
        self.run_dir: Path | None = None
        self._partial = ""

    def feed(self, chunk: str) -> None:
        self._partial += chunk
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        raw = line.rstrip("\r")
        if not raw.strip():
            return
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or "event" not in record:
            self.other.append(self.redactor.text(raw))
            return
        record = self.redactor.record(record)  # values only: a secret equal to a key ("event") breaks nothing
        self.events.append(record)
        if record["event"] == "run_start" and self.run_dir is None:
            self._open(str(record.get("run_id") or new_run_id()))
        elif self.run_dir is not None:
            self._append([record])
        if self.listener is not None:
            self.listener(record)

    def _open(self, run_id: str) -> None:
        self.run_dir = self.runs_dir / safe_name(self.pipeline) / safe_name(run_id)
        self.run_dir.mkdir(parents=True, exist_ok=False)
        self._append(self.events)

    def _append(self, records: list[dict[str, Any]]) -> None:
        assert self.run_dir is not None
        with (self.run_dir / "events.jsonl").open("a", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) + "\n")

    def close(self) -> Path:
        """Flush the last line; make sure the run directory exists; write artifacts/stdout.log if needed."""
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        if self.run_dir is None:
            self._open(new_run_id())
        assert self.run_dir is not None
        if self.other:
            write_atomic(self.run_dir / "artifacts" / "stdout.log", "\n".join(self.other) + "\n")
        return self.run_dir

    def last(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e.get("event") == kind), None)


def store_file(run: HostRun, dest: Path, data: bytes, text: bool) -> None:
    """Write a file brought back from the sandbox; text files (records, logs) pass through the redactor."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if text:
        write_atomic(dest, _masked_text(run.redactor, dest.name, data.decode("utf-8", errors="replace")))
    else:
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(dest)


def _masked_text(redactor: Redactor, name: str, text: str) -> str:
    """A run-record file with secrets masked: JSON and JSON lines in their values only (keys stay, so the record
    still reads), any other text throughout."""
    try:
        if name.endswith(".jsonl"):
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            return "".join(
                json.dumps(
                    redactor.record(r) if isinstance(r, dict) else redactor.data(r),
                    sort_keys=True,
                    ensure_ascii=False,
                    default=str,
                )
                + "\n"
                for r in lines
            )
        if name.endswith(".json"):
            data = redactor.data(json.loads(text))
            return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"
    except json.JSONDecodeError:
        pass
    return redactor.text(text)


def outcome(exit_code: int, sink: EventSink, stderr: str) -> tuple[int, str | None]:
    """The run's exit code and, when it failed before running, a one-line reason (redacted)."""
    if exit_code in EXIT_CODES:
        err = sink.last("bundle_error")
        return exit_code, (err or {}).get("message") or f"{EXIT_CODES[exit_code]}: {stderr.strip()[-500:]}"
    if exit_code in (0, 1):
        return exit_code, None
    err = sink.last("run_error")
    if err is not None:
        return exit_code, f"error[{err.get('code')}]: {err.get('message')}"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "(no output)"
    return exit_code, f"the sandboxed run exited with code {exit_code}: {last}"
