"""Connections at run time: find ``osiris_connections.yaml``, expand ``${VAR}``, pick an alias, resolve secrets.

Search order for the file: ``--connections``, ``$OSIRIS_HOME/osiris_connections.yaml``, the base directory (the
pipeline's folder), the working directory. A ``.env`` next to the file (and in the working directory) is loaded
without overriding variables already in the environment. Resolved values live only in memory: nothing here
writes them anywhere, and every secret value found is registered with the run's redactor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from osiris.runtime.errors import RunError
from osiris.runtime.redact import Redactor

FILENAME = "osiris_connections.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
SECRET_FIELDS = ("password", "token", "api_key", "apikey", "secret", "key", "service_role_key", "dsn", "pg_dsn")


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(lowered == s or lowered.endswith("_" + s) for s in SECRET_FIELDS)


def find_file(explicit: str | None, base_dir: Path, env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """The connections file to use, or None when there is none (fine for a plan without connections)."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise RunError("OSR-E310", f"connections file '{explicit}' does not exist")
        return path
    candidates = []
    if env.get("OSIRIS_HOME"):
        candidates.append(Path(env["OSIRIS_HOME"]) / FILENAME)
    candidates += [base_dir / FILENAME, (cwd or Path.cwd()) / FILENAME]
    return next((c for c in candidates if c.is_file()), None)


def load_dotenv(path: Path, env: MutableMapping[str, str]) -> None:
    """``KEY=value`` lines (``export`` and quotes allowed); existing keys are never overridden."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env.setdefault(key, value)


def expand(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-fallback}`` in every string of ``value``; an unset VAR is OSR-E314."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) in env:
                return env[m.group(1)]
            if m.group(2) is not None:
                return m.group(2)
            raise RunError("OSR-E314", f"{where}: environment variable '{m.group(1)}' is not set")

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env, where) for v in value]
    return value


class Connections:
    """The parsed connections file (values still unexpanded until ``resolve``)."""

    def __init__(self, data: Mapping[str, Any], origin: str, env: Mapping[str, str], redactor: Redactor):
        self.data = data
        self.origin = origin
        self.env = env
        self.redactor = redactor

    @classmethod
    def load(cls, path: Path | None, env: MutableMapping[str, str], redactor: Redactor) -> Connections:
        if path is None:
            return cls({}, "(no connections file)", env, redactor)
        load_dotenv(path.parent / ".env", env)
        load_dotenv(Path.cwd() / ".env", env)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise RunError("OSR-E311", f"{path.name}: cannot read the connections file: {type(exc).__name__}") from None
        conns = raw.get("connections") if isinstance(raw, dict) else None
        if not isinstance(conns, dict) or not all(
            isinstance(f, dict) and all(isinstance(a, dict) for a in f.values()) for f in conns.values()
        ):
            raise RunError("OSR-E311", f"{path.name}: expected 'connections: {{family: {{alias: {{fields}}}}}}'")
        return cls(conns, path.name, env, redactor)

    def choose(self, family: str, alias: str | None) -> str:
        """The alias a reference means: explicit, else ``default: true``, else ``default``, else an error.

        ``@family.default`` names the alias ``default`` when there is one, and otherwise the family's default."""
        aliases = self.data.get(family)
        if not aliases:
            raise RunError("OSR-E312", f"no '{family}' connections in {self.origin}")
        if alias == "default" and alias not in aliases:
            alias = None  # "@family.default" asks for the family's default connection
        if alias is not None:
            if alias not in aliases:
                listed = ", ".join(sorted(aliases))
                raise RunError("OSR-E312", f"connection '@{family}.{alias}' is not in {self.origin} (has: {listed})")
            return alias
        marked = sorted(a for a, fields in aliases.items() if fields.get("default") is True)
        if len(marked) == 1:
            return marked[0]
        if not marked and "default" in aliases:
            return "default"
        listed = ", ".join(sorted(aliases))
        why = "several are marked default: true" if marked else "none is marked default: true"
        raise RunError("OSR-E313", f"'@{family}' names no alias and {why} in {self.origin}; aliases: {listed}")

    def resolve(self, family: str, alias: str | None) -> dict[str, Any]:
        """The connection's fields with variables expanded; secret-looking values go to the redactor."""
        name = self.choose(family, alias)
        fields = {k: v for k, v in self.data[family][name].items() if k != "default"}
        resolved: dict[str, Any] = expand(fields, self.env, f"@{family}.{name}")
        for key, value in resolved.items():
            if is_secret_field(key) and isinstance(value, str):
                self.redactor.add(value)
        return resolved


def resolve_secrets(
    config: Any,
    connection: Mapping[str, Any] | None,
    env: Mapping[str, str],
    redactor: Redactor,
    resolve_conn: Any = None,
) -> Any:
    """Replace every ``{"$secret": {...}}`` marker in a step config by its value (registered with the redactor).

    ``source: connection`` reads the field ``name`` of the step's connection (or, when the marker names another
    connection, of that one via ``resolve_conn(ref)``); ``source: env`` reads the environment variable ``name``.
    """
    if isinstance(config, dict):
        if set(config) == {"$secret"} and isinstance(config["$secret"], dict):
            marker = config["$secret"]
            source, name = marker.get("source"), str(marker.get("name"))
            value: Any = None
            if source == "env":
                if name not in env:
                    raise RunError("OSR-E315", f"secret environment variable '{name}' is not set")
                value = env[name]
            elif source == "connection":
                ref = marker.get("connection")
                fields = resolve_conn(ref) if ref and resolve_conn is not None else connection
                if not fields or name not in fields:
                    raise RunError("OSR-E315", f"secret field '{name}' is not in connection {ref or '(none)'}")
                value = fields[name]
            else:
                raise RunError("OSR-E315", f"unknown secret source {source!r}")
            if isinstance(value, str):
                redactor.add(value)
            return value
        return {k: resolve_secrets(v, connection, env, redactor, resolve_conn) for k, v in config.items()}
    if isinstance(config, list):
        return [resolve_secrets(v, connection, env, redactor, resolve_conn) for v in config]
    return config
