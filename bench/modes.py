"""Write modes people use, into PostgreSQL and MariaDB, each against the native statements doing the same work in
the same run: append into a fresh table; replace + primary key into a fresh table; replace of an existing keyed
table (per ``replace_strategy``: staging, truncate); upsert of 10% changed and 10% new rows into a keyed table.

The source is MariaDB ``awk_<rows>`` (awkward text: tabs, newlines, carriage returns, backslashes, quotes, the texts
``NULL`` and ``\\N``, emoji, NULLs, empty strings). The native dump is ``mariadb --batch --raw`` of a SELECT that
escapes the text on the server, in utf8mb4 (the client's default utf8 turns emoji into ``?``; ``mariadb --batch``
alone leaves carriage returns raw and spells NULL as ``NULL``, which the text ``NULL`` cannot be told from: its
copies are wrong); it is piped into ``psql \\copy`` or ``LOAD DATA LOCAL INFILE '/dev/stdin'``, with the statement
sequence around it typed as a person would. Existing targets are filled before each run (untimed): replace cases
start from the upsert input's rows, so a replace that kept any old row is caught; every copy is verified value by
value against the source (or the expected upsert result)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import checksums, datagen
from bench.measure import Case, CaseResult, interleave
from bench.settings import BENCH_DIR, Settings

PIPELINES = BENCH_DIR / "pipelines"
Log = Callable[[str], None]
COLS = ("id", "customer_id", "amount", "status", "created_at", "note")
REST = COLS[1:]
# the column types osirisc creates from the MariaDB source (natives create the same)
PG_TYPES = "id BIGINT NOT NULL, customer_id INTEGER, amount NUMERIC(12,2), status TEXT, created_at TIMESTAMP, note TEXT"
MY_TYPES = (
    "id BIGINT NOT NULL, customer_id INT, amount DECIMAL(12,2), status LONGTEXT, created_at DATETIME(6), note LONGTEXT"
)
ESCAPED_NOTE = (
    "COALESCE(REPLACE(REPLACE(REPLACE(REPLACE(note, '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), '\\n', '\\\\n'), "
    "'\\r', '\\\\r'), '\\\\N')"
)


def dump_argv(s: Settings, source: str) -> list[str]:
    """The source rows as tab-separated text with backslash escapes and ``\\N`` for NULL (what both COPY's text
    format and LOAD DATA read), escaped by the server: ``--raw`` prints it as it is."""
    sql = f"SELECT id, customer_id, amount, status, created_at, {ESCAPED_NOTE} FROM `{source}`"
    return [
        "mariadb", "-h", s.mysql_host, "-P", str(s.mysql_port), "-u", s.mysql_user,
        "--default-character-set=utf8mb4", "--batch", "--raw", "--quick", "--skip-column-names", "-e", sql, s.mysql_db,
    ]  # fmt: skip


def psql_argv(s: Settings, *commands: str) -> list[str]:
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", s.pg_host, "-p", str(s.pg_port), "-U", s.pg_user]
    argv += ["-d", s.pg_db]
    for c in commands:
        argv += ["-c", c]
    return argv


def mariadb_argv(s: Settings, sql: str) -> list[str]:
    host = ["-h", s.mysql_host, "-P", str(s.mysql_port), "-u", s.mysql_user]
    return ["mariadb", *host, "--default-character-set=utf8mb4", "--local-infile=1", "-e", sql, s.mysql_db]


def piped(s: Settings, source: str, load: list[str], before: list[str] | None = None) -> list[str]:
    first = f"{shlex.join(before)} && " if before else ""
    return ["bash", "-c", f"set -o pipefail; {first}{shlex.join(dump_argv(s, source))} | {shlex.join(load)}"]


def _pg_sql(s: Settings, sql: str) -> None:
    conn = s.pg_connect()
    try:
        conn.execute(sql)
    finally:
        conn.close()


def _my_sql(s: Settings, *sqls: str) -> None:
    conn = s.mysql_connect(s.mysql_db)
    try:
        with conn.cursor() as cur:
            for sql in sqls:
                cur.execute(sql)
    finally:
        conn.close()


class Target:
    """One target server: table names, creating/filling/dropping tables, the native statements, checksums."""

    def __init__(self, s: Settings, kind: str, rows: int):
        self.s, self.kind, self.rows = s, kind, rows

    def name(self, case: str, rep: int) -> str:
        return f"m_{case.replace('-', '_')}_{self.rows}_{rep}"

    def qualified(self, table: str) -> str:
        return f'"{self.s.pg_schema}"."{table}"' if self.kind == "pg" else f"`{table}`"

    def drop(self, table: str) -> None:
        if self.kind == "pg":
            _pg_sql(self.s, f"DROP TABLE IF EXISTS {self.qualified(table)}")
        else:
            _my_sql(self.s, f"DROP TABLE IF EXISTS {self.qualified(table)}")

    def create(self, table: str, key: bool) -> str:
        """The CREATE TABLE statement (the native's own, or run untimed before an append)."""
        types = PG_TYPES if self.kind == "pg" else MY_TYPES
        return f"CREATE TABLE {self.qualified(table)} ({types}{', PRIMARY KEY (id)' if key else ''})"

    def fill(self, table: str, base: str) -> None:
        """An existing keyed table holding the rows of ``base`` (untimed set-up)."""
        self.drop(table)
        if self.kind == "pg":
            _pg_sql(self.s, self.create(table, key=True))
            _pg_sql(self.s, f"INSERT INTO {self.qualified(table)} SELECT * FROM {self.qualified('base_' + base)}")
            _pg_sql(self.s, f"VACUUM ANALYZE {self.qualified(table)}")
        else:
            _my_sql(self.s, self.create(table, key=True), f"INSERT INTO `{table}` SELECT * FROM `{base}`")

    def load_argv(self, table: str, *, staging: str | None = None, before: tuple[str, ...] = (),
                  after: tuple[str, ...] = ()) -> list[str]:  # fmt: skip
        """The native load of the dump into ``table`` (or a fresh unindexed ``staging`` copy of its columns), with
        the ``before``/``after`` statements in the same transaction when given."""
        into = staging or self.qualified(table)
        wrapped = bool(before or after or staging)
        if self.kind == "pg":
            commands = ["BEGIN"] if wrapped else []
            if staging:
                commands.append(f"CREATE TEMP TABLE {staging} (LIKE {self.qualified(table)})")
            commands += [*before, f"\\copy {into} FROM STDIN", *after]
            return psql_argv(self.s, *commands, *(["COMMIT"] if wrapped else []))
        load = f"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE {into} CHARACTER SET utf8mb4"
        if not wrapped:
            return mariadb_argv(self.s, load)
        parts = ["START TRANSACTION"]
        if staging:
            parts.append(f"CREATE TEMPORARY TABLE {staging} SELECT * FROM {self.qualified(table)} LIMIT 0")
        parts += [*before, load, *after, "COMMIT"]
        return mariadb_argv(self.s, "; ".join(parts))

    def upsert_sql(self, table: str, staging: str) -> str:
        t = self.qualified(table)
        if self.kind == "pg":
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in REST)
            return f"INSERT INTO {t} SELECT * FROM {staging} ON CONFLICT (id) DO UPDATE SET {sets}"
        sets = ", ".join(f"{c} = VALUES({c})" for c in REST)
        return f"INSERT INTO {t} SELECT * FROM {staging} ON DUPLICATE KEY UPDATE {sets}"

    def sums(self, table: str) -> dict[str, Any]:
        if self.kind == "pg":
            return checksums.pg_checksums(self.s, table)
        return checksums.mysql_checksums(self.s, table)

    def osirisc(self, pipeline: str, table: str, **params: str) -> list[str]:
        argv = [str(self.s.osirisc), "run", str(PIPELINES / pipeline), "--param", f"target_table={table}"]
        if self.kind == "pg":
            params["target_schema"] = self.s.pg_schema
        for k, v in params.items():
            argv += ["--param", f"{k}={v}"]
        return argv


def ensure_pg_base(s: Settings, source: str, want: dict[str, Any]) -> None:
    """``<pg_schema>.base_<source>``: a PostgreSQL copy of a MariaDB table (the rows existing targets start from)."""
    table = f"base_{source}"
    try:
        if checksums.pg_checksums(s, table) == want:
            return
    except Exception:  # not there yet
        pass
    target = Target(s, "pg", 0)
    target.drop(table)
    _pg_sql(s, target.create(table, key=True))
    import subprocess

    subprocess.run(piped(s, source, target.load_argv(table)), check=True, env=s.child_env())
    problem = checksums.compare(want, checksums.pg_checksums(s, table))
    if problem:
        raise RuntimeError(f"the PostgreSQL copy of {source} differs: {problem}")


def run_modes(s: Settings, rows: int, log: Log, kinds: tuple[str, ...] = ("pg", "mysql")) -> list[dict[str, Any]]:
    """Every scenario for every target kind; returns ``[{title, reference, cases, kind, scenario}]``."""
    src = Sources.ensure(s, rows)
    if "pg" in kinds:
        ensure_pg_base(s, src.source, src.source_sums)
        ensure_pg_base(s, src.upsert_input, src.upsert_input_sums)
    out: list[dict[str, Any]] = []
    for kind in kinds:
        server = "PostgreSQL" if kind == "pg" else "MariaDB"
        for title, scenario, cases in Scenarios(s, Target(s, kind, rows), src).all(rows):
            log(f"modes: MySQL -> {server}, {title}")
            results = interleave(cases, s.repeats, s.child_env(), s.timeout, log)
            out.append({"title": f"MySQL -> {server}: {title}", "kind": kind, "scenario": scenario, "cases": results})
    return out


@dataclass
class Sources:
    """The MariaDB tables the scenarios copy (``awk_<rows>`` and the upsert input) and the checksums each copy must
    match: the source's, the upsert input's, and ``upserted``, the source's rows after the upsert."""

    source: str
    upsert_input: str
    source_sums: dict[str, Any]
    upsert_input_sums: dict[str, Any]
    upserted: dict[str, Any]

    @classmethod
    def ensure(cls, s: Settings, rows: int) -> Sources:
        """The tables, created when missing (and the PostgreSQL schema), with their checksums."""
        source = datagen.ensure_mysql_awkward(s, rows)
        upd = datagen.ensure_mysql_upsert_input(s, rows)
        datagen.ensure_pg_schema(s)
        first, _ = datagen.upsert_ids(rows)
        src_sums = checksums.mysql_checksums(s, source)
        upd_sums = checksums.mysql_checksums(s, upd)
        db = f"`{s.mysql_db}`"
        union = f"(SELECT * FROM {db}.`{source}` WHERE id < {first} UNION ALL SELECT * FROM {db}.`{upd}`) AS expected"
        upserted = checksums.mysql_checksums(s, "", relation=union)
        return cls(source, upd, src_sums, upd_sums, upserted)


class Scenarios:
    """The cases of every scenario into one target: each case's ``prepare`` sets its table up (untimed) and returns
    the argv of the timed run; its copy is then verified value by value (checksums) and dropped."""

    def __init__(self, s: Settings, t: Target, src: Sources):
        self.s, self.t, self.src = s, t, src

    def all(self, rows: int) -> list[tuple[str, str, list[Case]]]:
        """(title, scenario, cases) in the order they run."""
        case, run, sums, upserted = self.case, self.osirisc_run, self.src.source_sums, self.src.upserted
        source, upd = self.src.source, self.src.upsert_input
        return [
            ("append into a fresh table (no key)", "append", [
                case("native-append", self.native_append, sums),
                case("osirisc-append", self.osirisc_append, sums),
            ]),
            ("replace + primary key, fresh table", "replace-fresh", [
                case("native-fresh", self.native_fresh, sums),
                case("osirisc-fresh", run("osirisc-fresh", "replace", "staging", source, None), sums),
            ]),
            (f"replace of an existing {rows:,}-row keyed table", "replace-existing", [
                case("native-staging", self.native_existing("native-staging", "staging"), sums),
                case("osirisc-staging", run("osirisc-staging", "replace", "staging", source, upd), sums),
                case("native-truncate", self.native_existing("native-truncate", "truncate"), sums),
                case("osirisc-truncate", run("osirisc-truncate", "replace", "truncate", source, upd), sums),
            ]),
            (f"upsert of {rows:,} rows (10% changed, 10% new) into a {rows:,}-row table", "upsert", [
                case("native-upsert", self.native_upsert, upserted),
                case("osirisc-upsert", run("osirisc-upsert", "upsert", "staging", upd, source), upserted),
            ]),
        ]  # fmt: skip

    def case(self, name: str, prepare: Callable[[int], list[str]], want: dict[str, Any]) -> Case:
        t = self.t

        def verify(rep: int) -> str | None:
            return checksums.compare(want, t.sums(t.name(name, rep)))

        def cleanup(rep: int) -> None:
            t.drop(t.name(name, rep))

        return Case(name, prepare, verify, cleanup, cwd=PIPELINES)

    def native_append(self, rep: int) -> list[str]:
        t = self.t
        table = t.name("native-append", rep)
        t.drop(table)
        (_pg_sql if t.kind == "pg" else _my_sql)(self.s, t.create(table, key=False))
        return piped(self.s, self.src.source, t.load_argv(table))

    def osirisc_append(self, rep: int) -> list[str]:
        t = self.t
        t.drop(t.name("osirisc-append", rep))
        return t.osirisc(f"modes_{t.kind}_append.yaml", t.name("osirisc-append", rep), source_table=self.src.source)

    def native_fresh(self, rep: int) -> list[str]:
        s, t = self.s, self.t
        table = t.name("native-fresh", rep)
        t.drop(table)
        create = psql_argv(s, t.create(table, key=True)) if t.kind == "pg" else mariadb_argv(s, t.create(table, True))
        return piped(s, self.src.source, t.load_argv(table), before=create)

    def osirisc_run(
        self, case_name: str, mode: str, strategy: str, src: str, base: str | None
    ) -> Callable[[int], list[str]]:
        """``osirisc run`` copying ``src`` with ``mode``/``strategy`` into a fresh table, or one holding ``base``."""
        t = self.t

        def prepare(rep: int) -> list[str]:
            table = t.name(case_name, rep)
            t.drop(table) if base is None else t.fill(table, base)
            return t.osirisc(
                f"modes_{t.kind}.yaml", table, source_table=src, write_mode=mode, replace_strategy=strategy
            )

        return prepare

    def native_existing(self, case_name: str, strategy: str) -> Callable[[int], list[str]]:
        """The native replace of a table holding the upsert input: through a staging table, or truncate and load."""
        s, t = self.s, self.t

        def prepare(rep: int) -> list[str]:
            table = t.name(case_name, rep)
            t.fill(table, self.src.upsert_input)
            q = t.qualified(table)
            if strategy == "staging":
                argv = t.load_argv(
                    table, staging="stg", after=(f"DELETE FROM {q}", f"INSERT INTO {q} SELECT * FROM stg")
                )
            else:
                argv = t.load_argv(table, before=(f"TRUNCATE {q}" if t.kind == "pg" else f"DELETE FROM {q}",))
            return piped(s, self.src.source, argv)

        return prepare

    def native_upsert(self, rep: int) -> list[str]:
        t = self.t
        table = t.name("native-upsert", rep)
        t.fill(table, self.src.source)
        return piped(
            self.s, self.src.upsert_input, t.load_argv(table, staging="stg", after=(t.upsert_sql(table, "stg"),))
        )


def pairs(section: dict[str, Any]) -> list[tuple[str, CaseResult, CaseResult]]:
    """(label, osirisc case, its native reference) of a modes section."""
    by = {c.name: c for c in section["cases"]}
    found = []
    for name, res in by.items():
        if name.startswith("osirisc-"):
            ref = by.get("native-" + name.removeprefix("osirisc-"))
            if ref is not None:
                found.append((name.removeprefix("osirisc-"), res, ref))
    return found
