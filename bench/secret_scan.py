"""Secret scanning time against input size (#13.6): ``redact_secrets.find_secrets`` over strings of 10 KB .. 1 MB
of several shapes, beside a linear reference (``str.find`` of an absent character over the same string).

The ratio to the reference stays flat when the scan is linear and grows with the size when it is not; ``growth``
is time(largest) / time(smallest) over the size ratio (1.0 = linear; on a busy machine the cost per character
also rises once the text no longer fits the CPU's caches). In-process, no osirisc start: the scan is what is
measured. The shapes are the ones that were quadratic as regular expressions, plus realistic SQL. Before #13.6
one long word of 100 KB took ~39 s (quadratic), 300 KB minutes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from osiris.passes.redact_secrets import find_secrets
from osiris.passes.secret_scan import scan

SQL_LINE = (
    "SELECT o.id, o.amount, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE o.note NOT LIKE '%postgres://svc:hunter2@db.internal/app%' AND o.created > '2024-01-01';\n"
)
SHAPES: dict[str, Callable[[int], str]] = {
    "realistic SQL (with URL credentials)": lambda n: (SQL_LINE * (n // len(SQL_LINE) + 1))[:n],
    "one long word": lambda n: "a" * n,
    "scheme characters without ://": lambda n: ("ab.c+d-" * n)[:n],
    "-eyJ repeated (JWT starts)": lambda n: ("-eyJ" * n)[:n],
    "near-miss URLs (no @)": lambda n: ("ab://user:pass" * n)[:n],
    "passwords in a connection string": lambda n: "host=h " + ("pwd=x " * n)[:n],
}


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def _kb(n: int) -> str:
    return f"{n // 1000:,} KB" if n < 1_000_000 else f"{n / 1_000_000:g} MB"


def run_secret_scan(sizes: Sequence[int], repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    """One section: per shape and size, the scan time, the reference time and their ratio."""
    rows = ["| shape | size | scan | per character | str.find | ratio |", "|---|---|---|---|---|---|"]
    figures: dict[str, str] = {}
    for shape, make in SHAPES.items():
        times = {}
        for n in sizes:
            text = make(n)
            scan.cache_clear()  # a remembered text would not be scanned again
            took = _best(lambda t=text: (scan.cache_clear(), list(find_secrets(t))), repeats)
            ref = _best(lambda t=text: t.find("\x00"), repeats)
            times[n] = took
            rows.append(
                f"| {shape} | {_kb(n)} | {took * 1000:.2f} ms | {took / n * 1e9:.0f} ns | {ref * 1000:.3f} ms "
                f"| {took / ref:,.0f}x |"
            )
            log(f"secret scan, {shape}, {_kb(n)}: {took * 1000:.2f} ms")
        small, large = min(sizes), max(sizes)
        growth = (times[large] / times[small]) / (large / small)
        figures[f"growth {shape} ({_kb(small)} -> {_kb(large)}, 1.0 = linear)"] = f"{growth:.2f}"
    return {
        "title": "Secret scanning (redact_secrets) against input size",
        "reference": "str.find",
        "note": "Best of the repeats, in-process; `ratio` = scan / `str.find` over the same string (flat = "
        "linear).\n\n" + "\n".join(rows),
        "figures": figures,
    }
