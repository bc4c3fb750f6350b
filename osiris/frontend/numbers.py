"""The numbers a pipeline can hold: integers Python can write as decimal text, floats that are finite.

Plans are JSON. Python refuses to convert an integer of more than ``sys.get_int_max_str_digits()`` decimal digits
(4,300 by default) to or from text - a guard against quadratic conversion time - so such an integer could be
neither hashed nor written. Both frontends and ``--param`` check numbers here, before any conversion.
"""

from __future__ import annotations

import functools
import sys


def max_digits() -> int:
    """The most decimal digits an integer may have (Python's int/str conversion limit; 0 there means none)."""
    return sys.get_int_max_str_digits() or sys.maxsize


@functools.cache
def _bound(digits: int) -> int:
    return 10**digits


def int_fits(value: int) -> bool:
    """True when ``value`` has at most ``max_digits()`` decimal digits."""
    limit = max_digits()
    return limit == sys.maxsize or abs(value) < _bound(limit)


def decimal_fits(text: str) -> bool:
    """True when the decimal integer literal ``text`` (sign, ``_`` separators and leading zeros allowed) has at
    most ``max_digits()`` significant digits, so ``int()`` reads it; checked before converting."""
    digits = text.lstrip("+-").replace("_", "").lstrip("0")
    return len(digits) <= max_digits()


def parse_decimal(text: str) -> int | None:
    """The decimal integer literal ``text`` as an int, or None when it has too many digits."""
    if not decimal_fits(text):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").replace("_", "").lstrip("0") or "0"
    return sign * int(digits)
