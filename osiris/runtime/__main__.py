"""``python -m osiris.runtime PLAN``: the bare entry point (used inside sandboxes, without the compiler)."""

import sys

from osiris.runtime.cli import main

sys.exit(main())
