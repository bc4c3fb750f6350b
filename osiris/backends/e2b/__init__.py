"""The e2b backend: emits a self-contained, byte-reproducible bundle (``bundle.py``) that runs a plan in a sandbox.

``emit`` writes ``<out_dir>/<pipeline>.bundle.tar.gz``. Running a bundle is the host's side: ``host.py`` (secrets
as the run command's environment, redaction, the local run directory), ``sandbox.py`` (the local stand-in:
fresh folder and virtualenv) and ``remote.py`` (an E2B cloud sandbox through the e2b SDK).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from osiris.backends.e2b.bundle import build_bundle, bundle_name

if TYPE_CHECKING:
    from osiris.compile import CompileResult


class E2BBackend:
    name = "e2b"

    def emit(self, compiled: CompileResult, out_dir: Path) -> list[str]:
        """Write the bundle (atomically) and return its file name."""
        assert compiled.pipeline is not None
        data = build_bundle(compiled)
        name = bundle_name(compiled.pipeline.name)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / f".{name}.tmp"
        try:
            tmp.write_bytes(data)
            tmp.chmod(0o644)
            tmp.replace(out_dir / name)
        except BaseException:  # disk full, ulimit -f, Ctrl-C: no partial bundle left behind
            tmp.unlink(missing_ok=True)
            raise
        return [name]
