"""What the MCP server offers, as plain functions returning JSON-able data (the server only wires them up).

``check`` compiles in this process (a pipeline's text may be given without saving it) and returns exactly the
diagnostics ``osirisc check --format json`` prints. The other compiler commands run the real ``osirisc`` in a
subprocess in the workspace, so an agent sees what a person at the terminal sees, and a slow or failing command
cannot take the server down. Every output passes ``Masker`` (the secret values of the workspace's connections
file and environment) before it leaves; the run directory and the compiler's outputs hold no secret already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from osiris.agent.workspace import OutsideWorkspace, Workspace
from osiris.secrets import Masker

TIMEOUT_S = 300
MAX_ERROR_CHARS = 4000  # a recorded error longer than this is cut in runs_list/runs_show (it can quote whole rows)


class ToolError(Exception):
    """A tool call that cannot be done as asked (bad path, unknown name): the message says why."""


class Tools:
    def __init__(self, workspace: Workspace, *, allow_run: bool = False, env: dict[str, str] | None = None):
        self.ws = workspace
        self.allow_run = allow_run
        self.env = dict(os.environ if env is None else env)
        self.masker = workspace_masker(workspace.root, self.env)

    # ------------------------------------------------------------------ helpers

    def _pipeline(self, path: str, *, must_exist: bool = True) -> Path:
        try:
            file = self.ws.path(path, must_exist=must_exist)
        except OutsideWorkspace as exc:
            raise ToolError(str(exc)) from None
        if file.suffix.lower() not in (".yaml", ".yml", ".osiris"):
            raise ToolError(f"'{path}' is not a pipeline file (.yaml, .yml or .osiris)")
        return file

    def _guard(self, file: Path, text: str | None = None) -> None:
        """Refuse a pipeline whose steps reference files outside the workspace (checked before compiling)."""
        from osiris.compile import compile_file
        from osiris.ir import nodes

        parsed = compile_file(str(file), text=text, until="resolve-params", env=self.env)
        if parsed.pipeline is None:
            return  # it does not parse: compiling reports why and reads no file
        configs = [nodes.data(s.config) for s in parsed.pipeline.steps]
        problems = self.ws.check_references(file, [c for c in configs if isinstance(c, dict)])
        if problems:
            raise ToolError("refused: " + "; ".join(problems))

    def _osirisc(self, *args: str, timeout: int = TIMEOUT_S) -> dict[str, Any]:
        """Run ``osirisc ARGS`` in the workspace; exit code and masked output."""
        env = {**self.env, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "osiris.cli", *args],
                cwd=self.ws.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"osirisc {args[0]} took longer than {timeout} s and was stopped") from None
        return {
            "exit_code": done.returncode,
            "stdout": self.masker.text(done.stdout),
            "stderr": self.masker.text(done.stderr),
        }

    def _json_or_text(self, result: dict[str, Any]) -> dict[str, Any]:
        try:
            result["result"] = json.loads(result["stdout"])
            del result["stdout"]
        except json.JSONDecodeError:
            pass
        return result

    # ------------------------------------------------------------------ discovery

    def components_list(self) -> list[dict[str, Any]]:
        from osiris.components.registry import SpecError, default_registry

        try:  # built-in specs are parsed when first listed: a broken one is a tool error naming its file
            return [
                {"name": s.name, "modes": list(s.pipeline_modes), "description": str(s.raw.get("description", ""))}
                for s in default_registry()
            ]
        except SpecError as exc:
            raise ToolError(str(exc)) from None

    def components_show(self, name: str) -> dict[str, Any]:
        from osiris.cli.components import describe
        from osiris.components.registry import SpecError, default_registry
        from osiris.ir.diagnostics import did_you_mean

        try:
            registry = default_registry()
            spec = registry.get(name)
            hint = did_you_mean(name, registry.names()) if spec is None else ""
        except SpecError as exc:
            raise ToolError(str(exc)) from None
        if spec is None:
            raise ToolError(f"unknown component {name!r}" + (f"; {hint}" if hint else ""))
        return {**describe(spec), "config_schema": spec.raw.get("configSchema", {})}

    def oml_schema(self) -> dict[str, Any]:
        from osiris.agent.oml_schema import oml_json_schema

        return oml_json_schema()

    def explain(self, code: str) -> dict[str, Any]:
        from osiris.ir.catalogue import catalogue

        key = code.upper() if code.upper().startswith("OSR-") else f"OSR-{code.upper()}"
        info = catalogue().get(key)
        if info is None:
            raise ToolError(f"unknown diagnostic code {code!r}")
        return {"code": info.code, "title": info.title, "explanation": info.explanation, "example": info.example}

    # ------------------------------------------------------------------ the compiler

    def check(self, path: str, text: str | None = None) -> dict[str, Any]:
        """Diagnostics of the pipeline at ``path`` (or of ``text`` as if it were that file's content)."""
        from osiris.compile import compile_file
        from osiris.render import sort_key, to_json_data

        file = self._pipeline(path, must_exist=text is None)
        self._guard(file, text)
        result = compile_file(str(file), text=text, env=self.env)
        diagnostics = [to_json_data(d) for d in sorted(result.diagnostics, key=sort_key)]
        for d in diagnostics:
            where = d.get("file")
            if isinstance(where, str):
                d["file"] = self.ws.display(Path(where))
        errors = sum(d.get("severity") == "error" for d in diagnostics)
        return self.masker.data(
            {
                "ok": not result.failed,
                "errors": errors,
                "warnings": len(diagnostics) - errors,
                "diagnostics": diagnostics,
            }
        )

    def save(self, path: str, text: str, overwrite: bool = True) -> dict[str, Any]:
        """Write a pipeline file (atomically) and return its check result; refused outside the workspace."""
        from osiris.canonical import write_atomic

        file = self._pipeline(path, must_exist=False)
        if file.exists() and not overwrite:
            raise ToolError(f"'{path}' exists (pass overwrite=true to replace it)")
        try:
            write_atomic(file, text)
        except OSError as exc:  # a folder in the way, a name too long, a full disk: the agent reads why
            raise ToolError(f"cannot save '{self.ws.display(file)}': {exc.strerror or type(exc).__name__}") from None
        return {"saved": self.ws.display(file), **self.check(path)}

    def fmt(self, path: str, to: str | None = None) -> dict[str, Any]:
        file = self._pipeline(path)
        return self._osirisc("fmt", str(file), *(["--to", to] if to else []))

    def graph(self, path: str, fmt: str = "text") -> dict[str, Any]:
        if fmt not in ("text", "mermaid", "dot"):
            raise ToolError("format is one of text, mermaid, dot")
        file = self._pipeline(path)
        self._guard(file)
        return self._osirisc("graph", str(file), "--format", fmt)

    def plan(self, path: str) -> dict[str, Any]:
        file = self._pipeline(path)
        self._guard(file)
        return self._json_or_text(self._osirisc("plan", str(file), "--format", "json"))

    def build(self, path: str) -> dict[str, Any]:
        file = self._pipeline(path)
        self._guard(file)
        return self._json_or_text(self._osirisc("build", str(file), "--format", "json"))

    def introspect(self, path: str) -> dict[str, Any]:
        file = self._pipeline(path)
        self._guard(file)
        return self._osirisc("introspect", str(file))

    def run(self, path: str) -> dict[str, Any]:
        if not self.allow_run:
            raise ToolError("running pipelines is off: start the server with `osirisc mcp --allow-run`")
        file = self._pipeline(path)
        self._guard(file)
        return self._json_or_text(self._osirisc("run", str(file), "--format", "json", timeout=3600))

    # ------------------------------------------------------------------ runs

    def runs_list(self, pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        from osiris.records.history import list_runs

        runs = list_runs(self.ws.root / "runs", pipeline, max(1, min(limit, 500)))
        return [
            self.masker.data(_clip_error({**r.as_dict(), "path": self.ws.display(r.path)}, self.masker)) for r in runs
        ]

    def runs_show(self, run: str = "last") -> dict[str, Any]:
        from osiris.records.history import find_run, load_run, not_found
        from osiris.records.report import step_rows

        if "/" in run or run.startswith("."):
            raise ToolError("give a run id (or a unique prefix of one) or 'last'")
        found = find_run(self.ws.root / "runs", run)
        if found is None:
            raise ToolError(f"{not_found(self.ws.root / 'runs', run)} (runs_list lists them)")
        record = load_run(found)
        summary = _clip_error({**record.summary.as_dict(), "path": self.ws.display(record.summary.path)}, self.masker)
        steps = [_clip_error(step, self.masker) for step in step_rows(record)]
        return self.masker.data({**summary, "steps": steps, "ddl": record.ddl})


def _clip_error(row: dict[str, Any], masker: Masker) -> dict[str, Any]:
    """``row`` with its ``error`` cut to MAX_ERROR_CHARS (masked first, so the cut cannot split a secret)."""
    error = row.get("error")
    if not isinstance(error, str) or len(error) <= MAX_ERROR_CHARS:
        return row
    error = masker.text(error)
    cut = f"{error[:MAX_ERROR_CHARS]}… [{len(error) - MAX_ERROR_CHARS:,} more characters in the run's record]"
    return {**row, "error": cut}


def workspace_masker(root: Path, env: dict[str, str]) -> Masker:
    """A masker holding every secret the workspace's connections file resolves to (one secrets model:
    osiris/secrets.py); an alias whose variables are unset holds nothing to leak and is passed over."""
    from osiris.runtime.connections import Connections, find_file
    from osiris.runtime.errors import RunError

    masker = Masker()
    try:
        conns = Connections.load(find_file(None, root, dict(env), cwd=root), dict(env), masker)
    except RunError:
        return masker
    for family, aliases in conns.data.items():
        for alias in aliases:
            try:
                conns.resolve(family, alias)
            except RunError:
                continue
    return masker
