"""CSV files: every value is text. Types come from DuckDB's sniffer (``read_csv`` column types) and are written
back in ISO formats; nothing is lossy except that a re-read file is typed by sniffing again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osiris.dialects.duckdb import DIALECT as _DUCKDB
from osiris.dialects.types import parse_type

# How each logical type is written as text (what a reader should expect).
FORMATS = {
    "date": "YYYY-MM-DD",
    "time": "HH:MM:SS[.ffffff]",
    "timestamp": "YYYY-MM-DD HH:MM:SS[.ffffff]",
    "timestamp[tz]": "YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM",
    "bool": "true/false",
    "bytes": "hex",
}
# What sniffing a written file gives back (DuckDB's sniffer knows BIGINT, DOUBLE, VARCHAR, DATE, TIME, TIMESTAMP...).
round_trip = {
    "int8": "int64",
    "int16": "int64",
    "int32": "int64",
    "uint8": "int64",
    "uint16": "int64",
    "uint32": "int64",
    "uint64": "int64",
    "float32": "float64",
    "bytes": "string",
    "json": "string",
    "uuid": "string",
}


def to_native(type_text: str, in_key: bool = False) -> tuple[str, str | None]:
    """The text format of a logical type in a CSV file (never lossy: values are written in full)."""
    t = parse_type(type_text)
    return FORMATS.get(t.name, "text"), None


def to_logical(native: str) -> str:
    """The logical type of a DuckDB sniffer type (``BIGINT``, ``DOUBLE``, ``VARCHAR``, ``DATE``...)."""
    return _DUCKDB.to_logical(native)


def quote_ident(name: str) -> str:
    """CSV header cells are quoted by the CSV writer itself; names are kept as they are."""
    return name


def write_statements(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {"prepare": [], "finalize": []}


SNIFF_SQL = "DESCRIBE SELECT * FROM read_csv(?, header = true, sample_size = 20480)"


def sniff(path: str, con: Any = None) -> list[dict[str, object]]:
    """Header and types of a CSV file, as plan columns (every sniffed column is nullable).

    ``con`` is an open DuckDB connection to use (the compiler shares one); without it a fresh one is opened."""
    if con is not None:
        rows = con.execute(SNIFF_SQL, [path]).fetchall()
        return [{"name": r[0], "type": to_logical(r[1]), "nullable": True} for r in rows]
    import duckdb  # only CSV sniffing needs DuckDB; writers import this module without it

    con = duckdb.connect()
    try:
        rows = con.execute(SNIFF_SQL, [path]).fetchall()
    finally:
        con.close()
    return [{"name": r[0], "type": to_logical(r[1]), "nullable": True} for r in rows]


COMPRESSED_SUFFIXES = {
    ".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".xz": "xz", ".zip": "zip"
}  # fmt: skip


def compression_of(file_name: str, setting: str | None) -> str | None:
    """The codec of a file: explicit, or inferred from its extension (``infer``); None for plain files."""
    if setting in (None, "infer"):
        dot = file_name.rfind(".")
        return COMPRESSED_SUFFIXES.get(file_name[dot:].lower()) if dot > file_name.rfind("/") else None
    return None if setting == "none" else setting


# -- server-formatted exports (docs/mysql-transfer.md, "CSV export") -------------------------------------------
EXPORT_DELIMITERS = frozenset("\t ") | frozenset(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"'\\")


def export_options(config: Mapping[str, Any]) -> dict[str, Any] | str:
    """The CSV writer options a source that formats the file itself must reproduce (``delimiter``, ``quoting``,
    ``newline``, ``header``, ``columns``), or why the writer's config cannot be reproduced byte for byte.

    Any compression (explicit or from the file name) makes the file's bytes its compressor's. ``quoting: none``
    makes Arrow fail on a value holding a delimiter, quote or line end, which a server cannot tell; other encodings
    than UTF-8 fail or transcode value by value in the writer. Any other delimiter is written as Arrow writes it
    (Arrow quotes by type, never by content), except those a SQL text literal cannot hold as themselves."""
    compression = compression_of(str(config.get("path", "")), config.get("compression"))
    if compression is not None:
        return f"compression: {compression} (the file's bytes are the compressor's)"
    encoding = str(config.get("encoding", "utf-8")).lower()
    if encoding not in ("utf-8", "utf8"):
        return f"encoding: {encoding} (only UTF-8 is what the server writes)"
    quoting = str(config.get("quoting", "minimal"))
    if quoting not in ("minimal", "nonnumeric", "all"):
        return f"quoting: {quoting} (Arrow refuses values with a delimiter, quote or line end; the server cannot tell)"
    delimiter = str(config.get("delimiter", ","))
    if delimiter not in EXPORT_DELIMITERS:
        return f"delimiter: {delimiter!r} (not one a SQL text literal holds as itself)"
    columns = config.get("columns")
    return {
        "delimiter": delimiter,
        "quoting": "all" if quoting == "all" else "minimal",
        "newline": "crlf" if config.get("newline") == "crlf" else "lf",
        "header": bool(config.get("header", True)),
        "columns": list(columns) if columns else None,
    }
