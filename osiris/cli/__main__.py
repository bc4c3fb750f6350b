"""``python -m osiris.cli`` is ``osirisc``."""

from osiris.cli import entry

entry()
