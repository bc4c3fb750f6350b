"""The CSV read plan's pure parts, shared by the compiler and the run without importing pyarrow's readers: the
dialect a config fixes by itself, the one naming rule for header cells, compression by file name, and the values
DuckDB reads as booleans."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from osiris.dialects import csv as csv_dialect

BLOCK_SIZE = 1 << 20
# read as UTF-8 by pyarrow itself (it skips a UTF-8 BOM); other encodings are decoded before it
ENCODINGS = ("utf-8", "utf-8-sig")
# DuckDB's BOOLEAN spellings (compared case-insensitively), so the run accepts what the sniff accepted
TRUE_VALUES = ("true", "t", "yes", "y", "1")
FALSE_VALUES = ("false", "f", "no", "n", "0")


class CsvError(ValueError):
    """A file that cannot be read as planned; the message names the file and, for a value, its row and column."""


# --------------------------------------------------------------------------- dialect and names


def config_dialect(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The dialect fields a config fixes by itself (without sniffing), as read-plan entries."""
    header = cfg.get("header", True)
    skip = int(cfg.get("skip_rows", 0)) + (header if isinstance(header, int) and header is not True else 0)
    return {
        "delimiter": str(cfg.get("delimiter", ",")),
        "quote": "" if cfg.get("quoting", "minimal") == "none" else '"',
        "header": header is not False,
        "skip_rows": skip,
        "null_values": ["", *cfg.get("na_values", [])],
        "encoding": str(cfg.get("encoding", "utf-8")).lower(),
        "compression": cfg.get("compression"),
        "comment": cfg.get("comment"),
        "skip_blank_lines": bool(cfg.get("skip_blank_lines", True)),
    }


def names(cells: Sequence[str]) -> list[str]:
    """The one naming rule for header cells (DuckDB's): trimmed; an empty cell at position i is ``column{i}``; a
    name equal, ignoring case, to an earlier one gets ``_1``, ``_2``... (``id, ID`` -> ``id, ID_1``)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        base = cell.strip() or f"column{i}"
        name, n = base, 0
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        out.append(name)
    return out


# --------------------------------------------------------------------------- the byte stream


def compression_of(path: Path, setting: str | None) -> str | None:
    """The codec for a file: explicit, or inferred from the extension (``infer``); None for plain files."""
    return csv_dialect.compression_of(path.name, setting)  # the one table, also read by the CSV export planner
