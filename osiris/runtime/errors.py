"""Runtime errors with stable codes (OSR-E300..E399, catalogue ``osiris/ir/catalogue/runtime.yaml``)."""

from __future__ import annotations


class RunError(Exception):
    """A problem found before or while running a plan. ``code`` is stable; the message never holds a secret.

    ``invalid`` errors (bad plan, bad connections file, usage) exit 2; the others (a step failed) exit 1.
    """

    def __init__(self, code: str, message: str, *, invalid: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.invalid = invalid

    def render(self, where: str = "") -> str:
        prefix = f"{where}: " if where else ""
        return f"{prefix}error[{self.code}]: {self.message}"


def environment_error(exc: ImportError) -> str:
    """One message for a library that cannot be loaded (a broken install, a missing shared library, a memory limit):
    the environment's fault, not the pipeline's, the data's or osirisc's. Names the library whose import failed."""
    name = exc.name
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame outside osiris and importlib is the failing library's
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module and not module.startswith(("osiris", "importlib", "_frozen_importlib", "__main__")):
            name = module
            break
        tb = tb.tb_next
    what = f"'{name.split('.', maxsplit=1)[0]}'" if name else "a library"
    return (
        f"cannot load {what} ({type(exc).__name__}: {exc}); the Python environment is broken or incomplete: "
        "reinstall osirisc's dependencies"
    )
