"""``python -m osiris.runtime PLAN``: the bare entry point (used inside sandboxes, without the compiler)."""

import sys

try:
    from osiris.runtime.cli import main
except ImportError as exc:  # pyarrow, DuckDB...: the environment's fault, never a traceback (exit 3, as osirisc's)
    from osiris.runtime.errors import environment_error

    print(f"osiris.runtime: {environment_error(exc)}", file=sys.stderr)
    sys.exit(3)

sys.exit(main())
