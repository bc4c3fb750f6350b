"""What makes a MySQL/MariaDB write exact or refused (used by mysql.writer around the write plan):

- a strict session (``SQL_MODE``): a value that does not fit is an error, 0 is not an auto-increment request;
- one writer per target: a named lock (``GET_LOCK``) on the database and table, held until commit or rollback,
  waited for at most ``lock_timeout`` seconds; the session's row and metadata lock waits get the same limit;
- every ``LOAD DATA LOCAL`` checked: LOCAL makes the server skip duplicate keys and cut values with only a warning
  (IGNORE semantics, whatever the sql_mode), so a load that stored fewer rows than it was given or left a warning
  is refused;
- messages like PostgreSQL's (``Key (id)=(1) already exists``), naming the key or column at fault.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from osiris.runtime.driver import StepError

SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,"
    "NO_AUTO_VALUE_ON_ZERO"
)
DEFAULT_LOCK_TIMEOUT = 30
DUPLICATE_KEY, LOCK_WAIT_TIMEOUT, DEADLOCK, DEPRECATED = 1062, 1205, 1213, 1287
_DUPLICATE = re.compile(r"Duplicate entry '(.*)' for key '(?:[^']*\.)?([^']*)'", re.DOTALL)
_AT_ROW = re.compile(r" at row (\d+)$")


class Refused(Exception):
    """A server error or warning that refuses the write: its code and message (``at row N`` counts from the start
    of the statement that raised it; ``first_row`` is that statement's first input row, 0-based)."""

    def __init__(self, code: int, message: str, first_row: int | None = None, *, warning: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.first_row = first_row
        self.warning = warning


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _run(cur: Any, sql: str, done: list[str]) -> Any:
    done.append(sql)
    cur.execute(sql)
    return cur.fetchone() if cur.description else None


def setup_session(cur: Any, lock_timeout: int, done: list[str]) -> None:
    """Strict values, and no lock wait (row or metadata) longer than ``lock_timeout`` seconds."""
    seconds = int(lock_timeout)
    waits = f"innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
    _run(cur, f"SET SESSION sql_mode = {_literal(SQL_MODE)}, {waits}", done)


def lock_name(database: str, table: str) -> str:
    """The named lock of one target table (MySQL limits lock names to 64 characters: long ones are hashed)."""
    name = f"osiris.writer:{database}.{table}"
    if len(name) <= 64:
        return name
    return "osiris.writer:" + hashlib.sha256(f"{database}.{table}".encode()).hexdigest()[:48]


def acquire(cur: Any, database: str, table: str, timeout: int, *, done: list[str], on_wait: Any) -> str:
    """Take the target's named lock (held by the session until it closes); when another run holds it, call
    ``on_wait(message)`` and wait at most ``timeout`` seconds. Returns the lock's name; raises StepError
    ``another run is writing <db>.<table> (waited <N> s for its lock)`` when the wait runs out."""
    name = lock_name(database, table)
    if _granted(_run(cur, f"SELECT GET_LOCK({_literal(name)}, 0)", done)):
        return name
    on_wait(f"another run is writing {database}.{table}; waiting up to {timeout} s for it")
    if not _granted(_run(cur, f"SELECT GET_LOCK({_literal(name)}, {int(timeout)})", done)):
        raise StepError(f"another run is writing {database}.{table} (waited {timeout} s for its lock)")
    return name


def _granted(row: Any) -> bool:
    return bool(row) and row[0] is not None and int(row[0]) == 1  # text: the connection has no result converters


def check_stored(cur: Any, rows: int, first_row: int) -> None:
    """After a LOAD DATA or INSERT of ``rows`` rows: raise Refused unless every row was stored as given (no row
    skipped, no warning or note: a cut or rounded value, a duplicate key, a NULL into NOT NULL)."""
    stored = cur.rowcount
    if cur.warning_count == 0 and stored == rows:
        return
    cur.execute("SHOW WARNINGS LIMIT 1")
    warning = cur.fetchone()
    if warning:
        raise Refused(int(warning[1]), str(warning[2]), first_row, warning=True)
    raise Refused(0, f"the server stored {stored} of {rows} rows", first_row, warning=True)


def check_warnings(cur: Any) -> None:
    """After an ``INSERT ... SELECT`` from staging: raise Refused on a warning or note (a value the strict session
    let through changed, such as a rounded decimal); MySQL 8's deprecation of ``VALUES()`` (1287) is not one."""
    if cur.warning_count == 0:
        return
    cur.execute("SHOW WARNINGS")
    for _level, code, message in cur.fetchall():
        if int(code) != DEPRECATED:
            raise Refused(int(code), str(message), warning=True)


def key_columns(cur: Any, table: str, key: str) -> list[str]:
    """The columns of index ``key`` of ``table`` (a qualified, quoted name), in key order."""
    try:
        cur.execute(f"SHOW INDEX FROM {table} WHERE Key_name = %s", (key,))
        rows = cur.fetchall()
    except Exception:
        return []
    return [str(r[4]) for r in sorted(rows, key=lambda r: int(r[3]))]


def refusal(cur: Any, refused: Refused, table: str, *, staged: bool) -> str:
    """The message for a refused write into ``table`` (``staged``: the staging table that holds only the input)."""
    if refused.code == DUPLICATE_KEY and (m := _DUPLICATE.search(refused.message)):
        entry, key = m.group(1), m.group(2)
        columns = ", ".join(key_columns(cur, table, key)) or key
        where = "appears more than once in the input" if staged else "already exists"
        return f"Key ({columns})=({entry}) {where} (MySQL/MariaDB error {DUPLICATE_KEY})"
    message = refused.message
    if refused.first_row is not None and (m := _AT_ROW.search(message)):
        message = message[: m.start()] + f" at input row {refused.first_row + int(m.group(1))}"
    kind = "warning" if refused.warning else "error"
    return f"{message} (MySQL/MariaDB {kind} {refused.code})" if refused.code else message


def locked_out(database: str, table: str, timeout: int) -> str:
    """The message for a row or metadata lock wait that ran out (another session holds a lock on the table)."""
    return f"another session holds a lock on {database}.{table} (waited {timeout} s for its lock)"


_ADD_COLUMN = re.compile(r"^ALTER TABLE (.+?) ADD COLUMN (`(?:[^`]|``)+`)")


def drop_added_column(add_sql: str) -> str:
    """``ALTER TABLE t ADD COLUMN `c` ...`` -> ``ALTER TABLE t DROP COLUMN `c``` (undone on failure)."""
    m = _ADD_COLUMN.match(add_sql)
    if m is None:
        raise ValueError(f"not an ADD COLUMN statement: {add_sql}")
    return f"ALTER TABLE {m.group(1)} DROP COLUMN {m.group(2)}"
