"""Connections at run time: find ``osiris_connections.yaml``, expand ``${VAR}``, pick an alias, resolve secrets, and
turn a connection into the explicit parameters of a client library.

Search order for the file: ``--connections``, ``$OSIRIS_HOME/osiris_connections.yaml``, the base directory (the
pipeline's folder), the working directory. A ``.env`` next to the file (and in the working directory) is loaded
without overriding variables already in the environment. Resolved values live only in memory: nothing here
writes them anywhere, and every secret value found (the fields the step's spec marks secret, and the password
part of any DSN or URL) is registered with the run's masker (``osiris.secrets``).

A connection is routed only by what it says: ``libpq_params`` / ``mysql_params`` pass every parameter explicitly
and refuse a connection that lacks host, database or user (``route_problems``), so no PG*/MYSQL* environment
variable, ``~/.pgpass``, service or option file fills a gap.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from osiris.runtime.errors import RunError
from osiris.secrets import Masker, dsn_passwords, replace_markers, secret_values, string_leaves

FILENAME = "osiris_connections.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
SERVER_DIALECTS = ("postgres", "mysql")  # the dialects whose connections are routed (a step's plan names its own)
SUPABASE_FIX = (
    "Supabase: give the database connection string from the project's Connect panel as `pg_dsn` "
    "(url and service_role_key are API credentials; they do not reach the database)"
)


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

    def __init__(self, data: Mapping[str, Any], origin: str, env: Mapping[str, str], redactor: Masker):
        self.data = data
        self.origin = origin
        self.env = env
        self.redactor = redactor

    @classmethod
    def load(cls, path: Path | None, env: MutableMapping[str, str], redactor: Masker) -> Connections:
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
                close = difflib.get_close_matches(alias, sorted(aliases), n=1, cutoff=0.6)
                hint = f"; did you mean '@{family}.{close[0]}'?" if close else ""
                raise RunError(
                    "OSR-E312", f"connection '@{family}.{alias}' is not in {self.origin} (has: {listed}){hint}"
                )
            return alias
        marked = sorted(a for a, fields in aliases.items() if fields.get("default") is True)
        if len(marked) == 1:
            return marked[0]
        if not marked and "default" in aliases:
            return "default"
        listed = ", ".join(sorted(aliases))
        why = "several are marked default: true" if marked else "none is marked default: true"
        raise RunError("OSR-E313", f"'@{family}' names no alias and {why} in {self.origin}; aliases: {listed}")

    def resolve(self, family: str, alias: str | None, secret_fields: Iterable[str] = ()) -> dict[str, Any]:
        """The connection's fields with variables expanded; ``secret_fields`` (from the step's spec) and the
        password part of any DSN/URL go to the masker."""
        name = self.choose(family, alias)
        fields = {k: v for k, v in self.data[family][name].items() if k != "default"}
        resolved: dict[str, Any] = expand(fields, self.env, f"@{family}.{name}")
        self.redactor.add_all(secret_values(resolved, secret_fields))
        return resolved


def resolve_secrets(
    config: Any,
    connection: Mapping[str, Any] | None,
    env: Mapping[str, str],
    redactor: Masker,
    resolve_conn: Any = None,
) -> Any:
    """Replace every ``{"$secret": {...}}`` marker in a step config by its value (registered with the masker).

    ``source: connection`` reads the field ``name`` of the step's connection (or, when the marker names another
    connection, of that one via ``resolve_conn(ref)``); ``source: env`` reads the environment variable ``name``.
    """

    def value_of(marker: dict[str, Any]) -> Any:
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
        redactor.add_all(string_leaves(value))  # a mapping (HTTP headers) too: every value
        return value

    return replace_markers(config, value_of)


def connection_schema(config: Mapping[str, Any], connection: Mapping[str, Any] | None) -> str | None:
    """The schema a step's connection gives it: the connection's ``schema`` when the step's config sets none (the
    step's own value wins, as for every connection field); None when neither does."""
    if config.get("schema") is not None or not connection or connection.get("schema") in (None, ""):
        return None
    return str(connection["schema"])


def with_connection_schema(config: Mapping[str, Any], connection: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config`` with the connection's ``schema`` filled in when the step sets none (what an extractor reads)."""
    schema = connection_schema(config, connection)
    return dict(config) if schema is None else {**config, "schema": schema}


# -- routing: explicit client parameters ------------------------------------------------------------------------
def _given(merged: Mapping[str, Any], *names: str) -> Any:
    return next((merged[n] for n in names if merged.get(n) not in (None, "")), None)


def _port_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None if value is None else "must be a port number (1-65535)"
    try:
        port = int(str(value).strip())
    except ValueError:
        return "must be a port number (1-65535)"
    return None if 1 <= port <= 65535 else "must be a port number (1-65535)"


def parse_dsn(dsn: str) -> dict[str, str]:
    """libpq's reading of ``dsn`` (keyword=value or URI); ValueError without the text when libpq cannot parse it."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception:
        raise ValueError(
            "is not a connection string libpq can read (check its quoting; in a URL, write @ as %40, a space as %20, "
            "% as %25 and / as %2F inside the password)"
        ) from None


def route_problems(dialect: str, merged: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, problem, fix) for everything that keeps a connection from naming its server, database and user
    explicitly; empty when it can be routed. ``merged`` is the connection's fields overridden by the step's."""
    problems: list[tuple[str, str, str]] = []
    port = _port_problem(merged.get("port"))
    if port:
        problems.append(("port", port, "write a number, e.g. port: 5432"))
    if dialect == "postgres":
        given: dict[str, Any] = {}
        dsn = _given(merged, "pg_dsn", "dsn")
        if dsn is not None:
            field = "pg_dsn" if merged.get("pg_dsn") not in (None, "") else "dsn"
            try:
                given = parse_dsn(str(dsn))
            except ValueError as exc:
                return [*problems, (field, str(exc), "the DSN's password is masked everywhere; fix the DSN's form")]
            written = dsn_passwords(str(dsn))
            if written and given.get("password") not in written:  # libpq split it elsewhere: part of it would leak
                problem = "has a password libpq does not read as written (a raw @, /, ?, # or space in it)"
                return [*problems, (field, problem, "percent-encode them: @ %40, / %2F, ? %3F, # %23, space %20")]
        need = {"host": ("host",), "database": ("database", "dbname"), "user": ("user",)}
        dsn_key = {"host": "host", "database": "dbname", "user": "user"}
        missing = [f for f, names in need.items() if _given(merged, *names) is None and not given.get(dsn_key[f])]
        if missing:
            supabase = any(merged.get(k) not in (None, "") for k in ("url", "service_role_key", "key", "project_id"))
            fix = SUPABASE_FIX if supabase else "give `pg_dsn`, or `host`, `database` and `user`"
            problems.append((missing[0], f"is missing ({', '.join(missing)} not given)", fix))
    elif dialect == "mysql":
        missing = [f for f in ("host", "user") if _given(merged, f) is None]
        if missing:
            problems.append((missing[0], f"is missing ({', '.join(missing)} not given)", "give `host` and `user`"))
    return problems


# keywords libpq documents a default for but has none compiled in, and refuses empty
_NO_EMPTY = {"sslcertmode": "allow", "min_protocol_version": "3.0", "max_protocol_version": "3.0"}


@functools.cache
def _libpq_defaults() -> dict[str, str]:
    """Every libpq keyword that falls back to an environment variable, with libpq's compiled-in default ("" for
    none): set explicitly, so PGHOST, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE ... are never read."""
    from psycopg import pq

    out = {}
    for option in pq.Conninfo.get_defaults():
        keyword = option.keyword.decode()
        if option.envvar and keyword != "service":  # an empty service is itself an error in libpq
            compiled = option.compiled.decode() if option.compiled is not None else None
            out[keyword] = compiled if compiled is not None else _NO_EMPTY.get(keyword, "")
    # never ~/.pgpass: a password is given or there is none (a path that cannot exist: libpq skips it silently)
    out["passfile"] = str(Path(os.devnull) / "no-pgpass")
    return out


_LIBPQ_FIELDS = ("host", "port", "user", "password", "sslmode", "sslrootcert", "connect_timeout", "application_name")


def libpq_params(merged: Mapping[str, Any]) -> dict[str, str]:
    """Explicit libpq keywords from ``pg_dsn``/``dsn`` and the fields (fields win); ValueError when the connection
    cannot be routed (see ``route_problems``)."""
    problems = route_problems("postgres", merged)
    if problems:
        field, problem, fix = problems[0]
        raise ValueError(f"connection field '{field}' {problem}; {fix}")
    dsn = _given(merged, "pg_dsn", "dsn")
    params = dict(_libpq_defaults())
    params.update(port="5432", connect_timeout="10")
    if dsn is not None:
        params.update(parse_dsn(str(dsn)))
    for key in _LIBPQ_FIELDS:
        if merged.get(key) not in (None, ""):
            params[key] = str(merged[key])
    database = _given(merged, "database", "dbname")
    if database is not None:
        params["dbname"] = str(database)
    return params


def mysql_params(merged: Mapping[str, Any]) -> dict[str, Any]:
    """Host/port/user/password/database, all explicit (no option file, no MYSQL_* variable fills a gap);
    ValueError when host or user is missing."""
    problems = route_problems("mysql", merged)
    if problems:
        field, problem, fix = problems[0]
        raise ValueError(f"connection field '{field}' {problem}; {fix}")
    return {
        "host": str(merged["host"]),
        "port": int(str(merged.get("port") or 3306).strip()),
        "user": str(merged["user"]),
        "password": str(merged.get("password") or ""),
        "database": merged.get("database"),
    }
