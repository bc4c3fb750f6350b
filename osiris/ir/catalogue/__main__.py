"""``python -m osiris.ir.catalogue`` prints docs/diagnostics.md."""

from osiris.ir.catalogue import markdown

print(markdown(), end="")
